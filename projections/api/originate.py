"""`POST /api/calls`: place an outbound call (admin scope) — an `OriginateCall` on an edge's command topic.

The body names whom to call: a full SIP URI (`sip:1000@127.0.0.1:5080`) is called directly, with no
trunk unless one is named for its credentials; a number (`+4930123`, `1000`) goes through a trunk
with an outbound address (`sip:<number>@<outbound_address>`).  The answer is `202 {"call_id"}` once
the log has the command: the call's progress and disposition are in its CDR (`GET /api/calls/{id}`).

A trunk's `outbound_calls_per_second` is enforced here too, per API process (429 + Retry-After),
so a burst is refused at once rather than as a run of failed calls; the edge enforces it again,
with `outbound_max_calls`, and records a refused attempt with the disposition `failed`.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from projections.api.auth import require_admin
from projections.api.errors import ApiError
from projections.api.models import ErrorBody
from projections.api.services import Services, services
from projections.api.tenancy import AdminScope, Tenancy, same_tenant
from projections.api.writes import acknowledged
from schemas import models as m

router = APIRouter(prefix="/api/calls", tags=["calls"])
NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")
NODE = r"^[A-Za-z0-9._-]{1,64}$"


class OriginateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Annotated[
        str, Field(min_length=1, max_length=256, description="a sip: URI, or a number (needs a trunk)")
    ]
    trunk: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    dialplan: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    language: Annotated[
        str | None, Field(min_length=2, max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    ] = None
    knowledge: Annotated[list[Annotated[str, Field(min_length=1, max_length=128)]], Field(max_length=64)] = []
    from_user: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9+._-]+$")] = "sentiric"
    ring_timeout_s: Annotated[int, Field(ge=1, le=300)] = 30
    edge: Annotated[str | None, Field(pattern=NODE, description="edge node id; default: the API's")] = None

    @field_validator("to")
    @classmethod
    def _target(cls, to: str) -> str:
        to = to.strip()
        if to.lower().startswith("sip:"):
            host = to[4:].rpartition("@")[2].split(";", 1)[0].split("?", 1)[0]
            host = host[1:].partition("]")[0] if host.startswith("[") else host.rpartition(":")[0] or host
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(f"the SIP URI's host must be an IP address: {host!r}") from None
            if any(c in to for c in ' \t\r\n<>"'):
                raise ValueError("a SIP URI without spaces, brackets or quotes")
            return to
        if NUMBER.match(to):
            return to
        raise ValueError("not a sip: URI or a number (digits, optional leading +, * and #)")


class OriginateOut(BaseModel):
    call_id: str
    to_uri: str
    edge: str


class Bucket:
    """Token bucket of one trunk's outbound rate in this process (burst of one second, at least one)."""

    def __init__(self, rate: float, now: float) -> None:
        self.tokens, self.at = max(rate, 1.0), now

    def take(self, rate: float, now: float) -> bool:
        self.tokens = min(max(rate, 1.0), self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


BUCKETS: dict[str, Bucket] = {}


def _trunk(svc: Services, trunk_id: str, scope: Tenancy) -> m.Trunk:
    trunk = svc.view.get(m.Trunk, trunk_id)
    if trunk is None or not trunk.enabled or not scope.sees(trunk.tenant):
        raise ApiError(422, "no such trunk", trunk_id)
    return trunk


@router.post(
    "",
    status_code=202,
    response_model=OriginateOut,
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorBody}, 403: {"model": ErrorBody}, 422: {"model": ErrorBody},
        429: {"model": ErrorBody, "description": "the trunk's outbound call rate is exceeded"},
        503: {"model": ErrorBody, "description": "log unavailable: the command was not acknowledged"},
    },
)  # fmt: skip
async def originate(
    body: OriginateIn, svc: Annotated[Services, Depends(services)], scope: AdminScope
) -> dict[str, Any]:
    """Place an outbound call; once answered the agent greets the callee as on an inbound call. The
    call is the acting tenant's: its trunk, dialplan and knowledge must be that tenant's (422)."""
    trunk = _trunk(svc, body.trunk, scope) if body.trunk is not None else None
    tenant = scope.owner(trunk.tenant if trunk is not None else None)
    same_tenant(svc.view, m.Dialplan, [body.dialplan] if body.dialplan else [], tenant, "dialplan")
    same_tenant(svc.view, m.KnowledgeEntry, body.knowledge, tenant, "knowledge")
    if body.to.lower().startswith("sip:"):
        to_uri = body.to
    elif trunk is None:
        raise ApiError(422, "a number needs a trunk", "name a trunk with an outbound_address")
    elif not trunk.outbound_address:
        raise ApiError(422, "the trunk takes no outbound calls", "it has no outbound_address")
    else:
        to_uri = f"sip:{body.to}@{trunk.outbound_address}"
    if trunk is not None and trunk.outbound_calls_per_second > 0:
        now = datetime.now(UTC).timestamp()
        rate = trunk.outbound_calls_per_second
        if not BUCKETS.setdefault(trunk.entity_id, Bucket(rate, now)).take(rate, now):
            raise ApiError(
                429,
                "outbound call rate exceeded",
                f"trunk {trunk.entity_id}: {rate:g}/s",
                {"Retry-After": "1"},
            )
    node = body.edge or svc.config.originate_edge
    call_id = str(uuid.uuid4())
    event_id = uuid.uuid4()
    command = m.OriginateCall(
        event_id=event_id, call_id=call_id, seq=0, occurred_at=datetime.now(UTC), source="api",
        trace_id=str(event_id), to_uri=to_uri, to=body.to, trunk_id=body.trunk, from_user=body.from_user,
        dialplan_id=body.dialplan, language=body.language, knowledge=tuple(body.knowledge),
        ring_timeout_s=body.ring_timeout_s, tenant=tenant,
    )  # fmt: skip
    topic = f"{svc.config.topics.commands_prefix}{node}"
    await acknowledged(svc, lambda: svc.producer.publish(command, topic=topic))
    return {"call_id": call_id, "to_uri": to_uri, "edge": node}
