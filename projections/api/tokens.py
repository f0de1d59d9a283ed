"""`/api/admin/tokens`: issue, list and revoke API tokens (admin scope).

A token is an ``ApiToken`` record on the compacted ``sentiric.config`` topic (key ``apitoken:<id>``)
holding the SHA-256 of its secret, never the secret: ``POST`` returns the token ``st_<id>_<secret>``
once, and nothing can show it again. Every process that checks tokens (the API's config view, the
edge's config table) follows the topic.

Revoking writes the record again with ``revoked=true`` and the hash cleared, rather than a tombstone:
the id stays taken (a later record can never bring it back by accident), the listing keeps showing who
was revoked and when, and a process that missed the change while down still learns it from the
compacted topic. The API refuses the token on the next request (its own view is updated before the
response); other processes as soon as their follower reads the record.

Tenants (issue 15): a token belongs to one tenant (``tenant``; default: the tenant the request acts
in). A tenant's admin issues, sees and revokes only its own tenant's tokens and never issues a
``platform`` token (403); only a platform principal does both, for any tenant. Platform tokens are
invisible to tenant admins, even those of their own tenant.
"""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from projections.api.admin import EntityId
from projections.api.audit import audit_headers
from projections.api.errors import ApiError
from projections.api.models import ErrorBody
from projections.api.services import Services, services
from projections.api.tenancy import TENANT_ID, AdminScope, Scope, Tenancy
from projections.api.writes import acknowledged, admin_router
from schemas import models as m
from sentiric.auth import PLATFORM, new_token

router = admin_router("/api/admin/tokens", "tokens")
NO_STORE = {"Cache-Control": "no-store"}  # a response carrying a secret is never cached (RFC 6749 §5.1)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$")]
    scopes: Annotated[list[Literal["read", "admin", "platform"]], Field(min_length=1, max_length=3)]
    expires_at: AwareDatetime | None = Field(default=None, description="omitted: never expires")
    tenant: Annotated[str | None, Field(pattern=TENANT_ID.pattern)] = Field(
        default=None, description="omitted: the tenant the request acts in (platform admins: any)"
    )


class TokenOut(BaseModel):
    id: str
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked: bool
    tenant: str


class IssuedToken(TokenOut):
    token: str = Field(description="The bearer token. Shown this once: store it now.")


Svc = Annotated[Services, Depends(services)]
Admin = AdminScope


def _out(r: m.ApiToken) -> dict[str, Any]:
    return {
        "id": r.entity_id,
        "name": r.name,
        "scopes": list(r.scopes),
        "created_at": r.created_at,
        "expires_at": r.expires_at,
        "revoked": r.revoked,
        "tenant": r.tenant,
    }


def _visible(scope: Tenancy, r: m.ApiToken) -> bool:
    return scope.sees(r.tenant) and (scope.principal.platform or PLATFORM not in r.scopes)


def _found(svc: Services, token_id: str, scope: Tenancy) -> m.ApiToken:
    record = svc.view.get(m.ApiToken, token_id)
    if record is None or not _visible(scope, record):
        raise ApiError(404, "ApiToken not found", {"id": token_id})
    return record


def _tenant_for(body: TokenIn, scope: Tenancy) -> str:
    """The new token's tenant, and 403 for what a tenant admin may not issue."""
    if scope.principal.platform:
        return body.tenant or scope.owner()
    if PLATFORM in body.scopes:
        raise ApiError(403, "only a platform admin issues platform tokens")
    if body.tenant is not None and body.tenant != scope.principal.tenant:
        raise ApiError(403, "a tenant admin issues tokens only for its own tenant", {"tenant": body.tenant})
    return scope.principal.tenant


async def _write(svc: Services, record: m.ApiToken, scope: Tenancy) -> None:
    topic, headers = svc.config.topics.config, audit_headers(scope.principal, record.tenant)
    await acknowledged(svc, lambda: svc.producer.publish(record, topic=topic, headers=headers))
    svc.view.put(record)


@router.post("", status_code=201, response_model=IssuedToken)
async def issue_token(body: TokenIn, svc: Svc, admin: Admin, response: Response) -> dict[str, Any]:
    now = datetime.now(UTC)
    if body.expires_at is not None and body.expires_at <= now:
        raise ApiError(422, "expires_at must be in the future", {"expires_at": body.expires_at})
    tenant = _tenant_for(body, admin)
    issued = new_token()
    event_id = uuid.uuid4()
    record = m.ApiToken(
        event_id=event_id,
        entity_id=issued.token_id,
        occurred_at=now,
        source=f"api:{admin.principal.token_id}",  # who issued it
        trace_id=str(event_id),
        name=body.name,
        secret_sha256=issued.secret_sha256,
        scopes=tuple(dict.fromkeys(body.scopes)),
        created_at=now,
        expires_at=body.expires_at,
        tenant=tenant,
    )
    await _write(svc, record, admin)
    response.headers.update(NO_STORE)
    return {**_out(record), "token": issued.token}


@router.get("", response_model=list[TokenOut])
async def list_tokens(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    records = [r for r in svc.view.all(m.ApiToken) if _visible(scope, r)]
    return [_out(r) for r in sorted(records, key=lambda r: r.created_at)]


@router.get("/{entity_id}", response_model=TokenOut, responses={404: {"model": ErrorBody}})
async def get_token(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _out(_found(svc, entity_id, scope))


@router.delete("/{entity_id}", status_code=204, responses={404: {"model": ErrorBody}})
async def revoke_token(entity_id: EntityId, svc: Svc, admin: Admin) -> Response:
    """Revoke: the token and every session signed in with it stop working."""
    record = _found(svc, entity_id, admin)
    if not record.revoked:
        event_id = uuid.uuid4()
        revoked = dataclasses.replace(
            record,
            event_id=event_id,
            occurred_at=datetime.now(UTC),
            source=f"api:{admin.principal.token_id}",
            trace_id=str(event_id),
            secret_sha256="",
            revoked=True,
        )
        await _write(svc, revoked, admin)
    return Response(status_code=204)
