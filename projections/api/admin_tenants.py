"""`/api/admin/tenants`: CRUD of tenants (`Tenant` config records on `sentiric.config`), platform scope.

A tenant is a business the platform serves: its display name, the SIP domains whose calls are its
own (the edge resolves a call's tenant from them), its default language, and whether it is enabled (a
disabled tenant's tokens are refused, and the edge refuses its calls). "default" needs no record: it
is what everything predating tenants belongs to. The id is the tenant's name everywhere else (the
``tenant`` field of every fact, config record and token), so it is short and lower-case.

Deleting a tenant removes its record only; its config records, tokens and calls stay (a tenant
re-created with the same id finds them again). Revoke its tokens first to lock it out.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Path, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from projections.api.admin import NOT_FOUND, Text, delete, write
from projections.api.errors import ApiError
from projections.api.services import Services, services
from projections.api.tenancy import TENANT_ID, AdminScope, Tenancy, owned, require_platform
from projections.api.writes import admin_router
from schemas import models as m

router = admin_router("/api/admin/tenants", "tenants")
router.dependencies.append(Depends(require_platform))  # every route, reads too
Svc = Annotated[Services, Depends(services)]
TenantId = Annotated[str, Path(pattern=f"^{TENANT_ID.pattern}$", description="lower-case, e.g. acme")]
Domain = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")]  # lower-cased


class TenantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text
    domains: Annotated[list[Domain], Field(max_length=100)] = Field(
        default_factory=list, description="SIP domains (Request-URI hosts) whose calls are this tenant's"
    )
    language: Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")] = "en"
    enabled: bool = True

    @field_validator("domains")
    @classmethod
    def _lower(cls, domains: list[str]) -> list[str]:
        return list(dict.fromkeys(d.strip().lower() for d in domains))


class TenantOut(TenantIn):
    id: str


def tenant_out(r: m.Tenant) -> dict[str, Any]:
    return {"id": r.entity_id, "name": r.name, "domains": list(r.domains), "language": r.language,
            "enabled": r.enabled}  # fmt: skip


def _all_tenants(scope: Tenancy) -> Tenancy:
    """Tenant records have no tenant of their own: a platform principal sees them whatever it acts in."""
    return Tenancy(scope.principal, None)


@router.get("", response_model=list[TenantOut])
async def list_tenants(svc: Svc) -> list[dict[str, Any]]:
    return [tenant_out(r) for r in svc.view.all(m.Tenant)]


@router.get("/{entity_id}", response_model=TenantOut, responses=NOT_FOUND)
async def get_tenant(entity_id: TenantId, svc: Svc, scope: AdminScope) -> dict[str, Any]:
    return tenant_out(owned(svc.view, m.Tenant, entity_id, _all_tenants(scope)))


@router.put("/{entity_id}", response_model=TenantOut)
async def put_tenant(entity_id: TenantId, body: TenantIn, svc: Svc, scope: AdminScope) -> dict[str, Any]:
    """A SIP domain names one tenant: a domain another tenant lists is 409."""
    for other in svc.view.all(m.Tenant):
        shared = sorted(set(other.domains) & set(body.domains))
        if other.entity_id != entity_id and shared:
            raise ApiError(
                409, "a domain belongs to another tenant", {"domains": shared, "tenant": other.entity_id}
            )
    event_id = uuid.uuid4()
    record = m.Tenant(
        event_id=event_id, entity_id=entity_id, occurred_at=datetime.now(UTC), source="api",
        trace_id=str(event_id), name=body.name, domains=tuple(body.domains), language=body.language,
        enabled=body.enabled,
    )  # fmt: skip
    return tenant_out(await write(svc, record, _all_tenants(scope)))


@router.delete("/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_tenant(entity_id: TenantId, svc: Svc, scope: AdminScope) -> Response:
    return await delete(svc, m.Tenant, entity_id, _all_tenants(scope))
