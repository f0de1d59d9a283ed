"""Outbound calls from a real edge to sipp as the callee (UAS): the OriginateCall command on the edge's
command topic → INVITE → answered (then hung up with a Hangup command), busy (486), no answer (ring
timeout → CANCEL → 487). The facts are read back from the log."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from schemas import models
from schemas.envelope import envelope
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port_for_both
from tests.support.sipp import run_sipp

from .conftest import StartEdge, metric, node_facts


def originate(port: int, params: str = "", **fields: Any) -> models.OriginateCall:
    target = f"sip:1000@127.0.0.1:{port}{params}"
    return models.OriginateCall(
        **envelope(str(uuid.uuid4()), seq=0, source="api"), to_uri=target, to=target, **fields
    )


async def send(kafka: str, topic: str, *commands: Any) -> None:
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for c in commands:
            producer.publish(c, topic=topic)
        await producer.flush()


async def callee(
    tmp_path: Path, scenario: str, port: int, timeout_s: float = 40, extra: list[str] | None = None
) -> asyncio.Task[Any]:
    task = asyncio.create_task(
        run_sipp(0, tmp_path / scenario, scenario=scenario, local_port=port, timeout_s=timeout_s, extra=extra)
    )
    await asyncio.sleep(0.5)  # sipp binds its port before the INVITE is sent
    return task


def by_name(records: list[Any]) -> dict[str, Any]:
    return {type(r).__name__: r for r in records}


async def wait_established(app: Any, call_id: str, within_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        call = app.core.calls.get(call_id)
        if call is not None and call.established_at is not None:
            return
        assert loop.time() < deadline, "the outbound call was not answered"
        await asyncio.sleep(0.05)


async def test_outbound_call_answered_by_sipp_then_hung_up(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge()
    port = free_port_for_both(host="127.0.0.1")
    sipp = await callee(tmp_path, "uas", port)  # built-in: 180, 200, waits for the BYE
    cmd = originate(port, language="tr-TR")
    await send(kafka, app.settings.commands_topic, cmd)
    await wait_established(app, cmd.call_id)
    await send(
        kafka,
        app.settings.commands_topic,
        models.Hangup(**envelope(cmd.call_id, seq=1, source="t"), reason="done"),
    )
    result = await sipp
    assert result.returncode == 0, result.describe()
    facts = (await node_facts(app, kafka, 1))[cmd.call_id]
    names = [type(r).__name__ for r in facts]
    expected = [
        "CallInviteReceived",
        "DialplanResolved",
        "MediaPortAllocated",
        "CallAnswered",
        "CallEstablished",
    ]
    assert [n for n in names if n in expected] == expected, names
    assert names.index("CallEnded") < names.index("MediaPortReleased"), names
    f = by_name(facts)
    assert f["CallInviteReceived"].direction == "outbound"
    assert f["DialplanResolved"].language == "tr-TR" and f["DialplanResolved"].action == "agent"
    assert f["CallEnded"].disposition == "answered" and f["CallEnded"].hangup_by == "agent"


async def test_outbound_call_over_tcp_to_a_sipp_callee_listening_on_tcp(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    """`;transport=tcp` in the target: the edge connects to sipp's TCP port, INVITEs over it, and the
    call is answered and hung up on that connection (sipp's `-t t1` answers nothing over UDP)."""
    app = await start_edge()
    port = free_port_for_both(host="127.0.0.1")
    sipp = await callee(tmp_path, "uas", port, extra=["-t", "t1"])
    cmd = originate(port, ";transport=tcp")
    await send(kafka, app.settings.commands_topic, cmd)
    await wait_established(app, cmd.call_id)
    await send(
        kafka,
        app.settings.commands_topic,
        models.Hangup(**envelope(cmd.call_id, seq=1, source="t"), reason="done"),
    )
    result = await sipp
    assert result.returncode == 0, result.describe()
    f = by_name((await node_facts(app, kafka, 1))[cmd.call_id])
    assert f["CallInviteReceived"].transport == "tcp"
    assert f["CallEnded"].disposition == "answered" and f["CallEnded"].hangup_by == "agent"


async def test_outbound_call_to_a_busy_callee(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    port = free_port_for_both(host="127.0.0.1")
    sipp = await callee(tmp_path, "uas_busy.xml", port)
    cmd = originate(port)
    await send(kafka, app.settings.commands_topic, cmd)
    result = await sipp
    assert result.returncode == 0, result.describe()
    f = by_name((await node_facts(app, kafka, 1))[cmd.call_id])
    assert (f["CallRejected"].reason, f["CallRejected"].sip_status) == ("busy", 486)
    assert f["CallEnded"].disposition == "busy"


async def test_outbound_call_not_answered_is_cancelled_at_the_ring_timeout(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge()
    port = free_port_for_both(host="127.0.0.1")
    sipp = await callee(tmp_path, "uas_no_answer.xml", port)
    cmd = originate(port, ring_timeout_s=2)
    await send(kafka, app.settings.commands_topic, cmd)
    result = await sipp
    assert result.returncode == 0, result.describe()
    f = by_name((await node_facts(app, kafka, 1))[cmd.call_id])
    assert f["CallRejected"].reason == "no_answer" and f["CallEnded"].disposition == "no_answer"
    invited, ended = f["CallInviteReceived"].occurred_at, f["CallEnded"].occurred_at
    assert (ended - invited).total_seconds() >= 2.0  # it rang for the ring timeout


@pytest.mark.parametrize("transport", ["udp", "tcp"])
async def test_the_edge_registers_with_a_trunk_and_unregisters_at_stop(
    start_edge: StartEdge, config: Any, kafka: str, tmp_path: Path, transport: str
) -> None:
    """Over TCP the trunk's address says so (`;transport=tcp`) and sipp listens on TCP only."""
    port = free_port_for_both(host="127.0.0.1")
    suffix, extra = (";transport=tcp", ["-t", "t1"]) if transport == "tcp" else ("", None)
    trunk_id = f"carrier-{uuid.uuid4().hex[:6]}"
    await config(
        models.Trunk(
            event_id=uuid.uuid4(), entity_id=trunk_id, occurred_at=datetime.now(UTC), source="test",
            trace_id="t", name="carrier", sources=(), outbound_address=f"127.0.0.1:{port}{suffix}",
            outbound_username="acct", outbound_password="pw", outbound_register=True,
        )
    )  # fmt: skip
    sipp = await callee(tmp_path, "uas_registrar.xml", port, extra=extra)
    app = await start_edge()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while metric("sentiric_sip_trunk_registered", trunk=trunk_id) != 1.0:
        assert loop.time() < deadline, "not registered with the trunk"
        await asyncio.sleep(0.1)
    await app.stop()  # unREGISTER (Expires: 0), which sipp waits for
    result = await sipp
    assert result.returncode == 0, result.describe()
    assert "403 Forbidden" not in result.stdout
