"""Which tenant a request acts in, and the checks every route makes with it (issue 15).

Each principal belongs to one tenant (its token's ``ApiToken.tenant``). A request acts in:

- a tenant principal's own tenant, always. Naming another one (``?tenant=`` or the
  ``X-Sentiric-Tenant`` header) is 403;
- for a ``platform`` principal: the tenant it names, or, naming none, every tenant at once (reads
  see everything; a write keeps an existing record's tenant and creates new ones in "default"). The
  dashboard's tenant picker names it with the ``sentiric_tenant`` cookie (a preference, not a
  credential: it only ever narrows what a platform principal sees, and other principals' requests
  ignore it), so EventSource and ``<audio>`` requests, which cannot set a header, follow it too.

Routes take a ``Scope`` (any principal) or an ``AdminScope`` (admin scope) and filter with it in the
query: rows by their ``tenant`` column, config records by their ``tenant`` field. Entity ids are global
across tenants (one compacted config topic, key ``<kind>:<id>``), so:

- reading or deleting another tenant's id is 404, exactly as if it did not exist;
- writing an id another tenant owns is 409. That tells the writer the id exists somewhere and
  nothing else about it (not the tenant, not the record). Ids are the writer's choice, so a tenant
  that wants no collisions prefixes its ids; the alternative (a silent takeover) would move another
  business's dialplan.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Final, TypeVar

from fastapi import Depends, Request
from starlette.requests import HTTPConnection

from projections.api.auth import guard, require_admin
from projections.api.errors import ApiError
from sentiric.auth import DEFAULT_TENANT, PLATFORM, Principal

TENANT_PARAM: Final = "tenant"
TENANT_HEADER: Final = "x-sentiric-tenant"
TENANT_COOKIE: Final = "sentiric_tenant"
TENANT_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # also the Tenant record's entity id
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Tenancy:
    principal: Principal
    tenant: str | None  # None: every tenant (a platform principal that named none)

    def sees(self, tenant: str) -> bool:
        return self.tenant is None or tenant == self.tenant

    def owner(self, existing: str | None = None) -> str:
        """The tenant a write goes to: the acting tenant; for a platform principal acting in every
        tenant, the existing record's tenant, else "default"."""
        if self.tenant is not None:
            return self.tenant
        return existing if existing is not None else DEFAULT_TENANT

    def visible(self, records: list[T]) -> list[T]:
        return [r for r in records if self.sees(getattr(r, "tenant", DEFAULT_TENANT))]


def acting_tenant(request: HTTPConnection, principal: Principal) -> str | None:
    """The tenant the request names (query parameter, else header), checked against the principal."""
    named = request.query_params.get(TENANT_PARAM) or request.headers.get(TENANT_HEADER) or None
    if named is not None and not TENANT_ID.fullmatch(named):
        raise ApiError(422, "invalid tenant", {"tenant": named[:80]})
    if principal.platform:
        if named is None:
            picked = request.cookies.get(TENANT_COOKIE)
            named = picked if picked and TENANT_ID.fullmatch(picked) else None  # a stale or odd one: none
        return named
    if named is not None and named != principal.tenant:
        raise ApiError(
            403,
            "this token acts only in its own tenant",
            None,
            {"WWW-Authenticate": f'Bearer realm="sentiric", error="insufficient_scope", scope="{PLATFORM}"'},
        )
    return principal.tenant


def tenancy(request: Request, principal: Annotated[Principal | None, Depends(guard)]) -> Tenancy:
    if principal is None:  # an open route cannot ask for a tenant
        raise ApiError(401, "unauthorized")
    cached: Tenancy | None = getattr(request.state, "tenancy", None)
    if cached is None:
        cached = request.state.tenancy = Tenancy(principal, acting_tenant(request, principal))
    return cached


def admin_tenancy(request: Request, principal: Annotated[Principal, Depends(require_admin)]) -> Tenancy:
    return tenancy(request, principal)


def require_platform(principal: Annotated[Principal | None, Depends(guard)]) -> Principal:
    if principal is None or not principal.platform:
        raise ApiError(
            403,
            "the platform scope is required",
            None,
            {"WWW-Authenticate": f'Bearer realm="sentiric", error="insufficient_scope", scope="{PLATFORM}"'},
        )
    return principal


Scope = Annotated[Tenancy, Depends(tenancy)]
AdminScope = Annotated[Tenancy, Depends(admin_tenancy)]


# --- config records --------------------------------------------------------------------------------


def owned(view: Any, model: type[T], entity_id: str, scope: Tenancy) -> T:
    """The record, if it exists and belongs to a tenant the scope sees; else 404."""
    record = view.get(model, entity_id)
    if record is None or not scope.sees(getattr(record, "tenant", DEFAULT_TENANT)):
        raise ApiError(404, f"{model.__name__} not found", {"id": entity_id})
    return record  # type: ignore[no-any-return]  # view.get is typed by the model


def claim(view: Any, record: Any, scope: Tenancy) -> Any:
    """The record to write, stamped with its tenant; 409 when its id belongs to another tenant."""
    model, entity_id = type(record), record.entity_id
    existing = view.get(model, entity_id)
    existing_tenant = getattr(existing, "tenant", None) if existing is not None else None
    if existing_tenant is not None and not scope.sees(existing_tenant):
        raise ApiError(
            409,
            f"this {model.__name__} id is taken",
            {"id": entity_id, "reason": "ids are global across tenants; choose another"},
        )
    if not any(f.name == "tenant" for f in dataclasses.fields(record)):
        return record  # a Tenant record itself
    return dataclasses.replace(record, tenant=scope.owner(existing_tenant))


def same_tenant(view: Any, model: type[Any], ids: Iterable[str], tenant: str, field: str) -> None:
    """422 when a referenced record belongs to another tenant: a dialplan or a call routes only to its
    own tenant's dialplans, knowledge and trunks. An id nothing holds yet is let through, as before
    tenants (a plan may name its night plan before it is written); the edge resolves references within
    the call's tenant, so another tenant writing that id later does not capture the reference."""
    for entity_id in ids:
        record = view.get(model, entity_id)
        if record is not None and getattr(record, "tenant", DEFAULT_TENANT) != tenant:
            raise ApiError(
                422,
                f"{field} must name a {model.__name__} of the same tenant",
                {"field": field, "id": entity_id},
            )
