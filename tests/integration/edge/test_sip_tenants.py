"""Tenants at the edge with sipp and the real Kafka: the edge follows ``tenant:`` config records, routes
an INVITE by its Request-URI host to the tenant that lists it, stamps the tenant on every fact of the
call, and refuses a disabled tenant's calls with 403."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas import models
from tests.support.sipp import run_sipp

from .conftest import StartEdge, node_facts
from .test_never_silent_edge import dialplan


def tenant(tenant_id: str, *, enabled: bool = True) -> models.Tenant:
    return models.Tenant(
        event_id=uuid.uuid4(), entity_id=tenant_id, occurred_at=datetime.now(UTC), source="test",
        trace_id="test", name=tenant_id, domains=["127.0.0.1"], language="en-GB", enabled=enabled,
    )  # fmt: skip


async def test_the_domains_tenant_gets_the_call_and_every_fact_names_it(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    number = f"3{uuid.uuid4().int % 10**6:06d}"
    acme = f"it-acme-{number}"
    await config(
        tenant(acme),
        # the same number in the default tenant: without the domain it would win the tie
        dialplan(f"default-{number}", number, action="reject", reject_status=404),
        dialplan(f"{acme}-desk", number, action="prompt_hangup", tenant=acme),
    )
    app = await start_edge(tts_engine="espeak")
    result = await run_sipp(
        app.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, calls=1, timeout_s=40
    )
    assert result.last("SuccessfulCall(C)") == 1, result.describe()
    (records,) = (await node_facts(app, kafka, 1)).values()
    resolved = next(r for r in records if isinstance(r, models.DialplanResolved))
    assert resolved.dialplan_id == f"{acme}-desk"
    kinds = {type(r).__name__ for r in records}
    assert {
        "CallInviteReceived",
        "SipMessageObserved",
        "CallAnswered",
        "PlaybackStarted",
        "CallEnded",
    } <= kinds
    assert "MediaPortReleased" in kinds
    assert {(type(r).__name__, r.tenant) for r in records if r.tenant != acme} == set()


async def test_a_disabled_tenants_call_is_refused_with_403(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path
) -> None:
    number = f"3{uuid.uuid4().int % 10**6:06d}"
    off = f"it-off-{number}"
    await config(tenant(off, enabled=False), dialplan(f"{off}-desk", number, tenant=off))
    app = await start_edge()
    result = await run_sipp(app.sip_port, tmp_path, scenario="uac_forbidden.xml", service=number, calls=1)
    assert result.returncode == 0 and result.last("SuccessfulCall(C)") == 1, result.describe()
    (records,) = (await node_facts(app, kafka, 1, wait_s=10)).values()
    facts = [r for r in records if not isinstance(r, models.SipMessageObserved)]
    assert [type(r).__name__ for r in facts][:3] == ["CallInviteReceived", "CallRejected", "CallEnded"]
    assert (facts[1].sip_status, facts[1].reason) == (403, "tenant_disabled")
    assert {r.tenant for r in records} == {off}
