"""The edge's SIP side against sipp as the real peer, with the real local Kafka.

Each test starts its own edge in-process (free SIP, RTP and metrics ports; its own node id, so its
facts are told apart by ``source``), drives sipp with a bounded run, checks sipp's exit code and
statistics, then reads the facts back from ``sentiric.calls``.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.sip.digest import compute_ha1
from schemas import models
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import read_call
from sentiric.eventlog.producer import EventProducer
from tests.support.sipp import free_rtp_range, run_sipp

from .conftest import BASIC, StartEdge, metric, node_facts, sip_names, sip_only


async def test_basic_call(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    result = await run_sipp(app.sip_port, tmp_path, calls=1, extra=["-d", "200"])
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 1 and result.last("FailedCall(C)") == 0
    calls = await node_facts(app, kafka, 1)
    (call_id,) = calls
    timeline = await read_call(call_id, bootstrap_servers=kafka)
    records = [d.record for d in timeline if d.topic == topics.CALLS]
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    records = sip_only(records)
    assert sip_names(records) == BASIC
    ended = next(r for r in records if type(r).__name__ == "CallEnded")
    assert (ended.reason, ended.hangup_by, ended.sip_status) == ("caller_bye", "caller", 200)
    assert ended.talk_ms >= 150 and ended.setup_ms is not None


async def test_options(start_edge: StartEdge, tmp_path: Path) -> None:
    app = await start_edge()
    before = metric("sentiric_sip_requests_total", method="OPTIONS")
    result = await run_sipp(app.sip_port, tmp_path, scenario="uac_options.xml", calls=3)
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 3
    assert metric("sentiric_sip_requests_total", method="OPTIONS") - before == 3


async def test_cancel_before_answer(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge(sip_ring_ms=5000)
    result = await run_sipp(app.sip_port, tmp_path, scenario="uac_cancel.xml", calls=1)
    assert result.returncode == 0, result.describe()
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    assert sip_names(records) == [
        "CallInviteReceived",
        "DialplanResolved",
        "MediaPortAllocated",
        "CallCancelled",
        "CallEnded",
        "MediaPortReleased",
    ]
    assert records[-2].sip_status == 487 and records[-2].reason == "cancelled"


async def test_edge_hangs_up_on_hangup_command(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    sipp = asyncio.create_task(run_sipp(app.sip_port, tmp_path, scenario="uac_wait_bye.xml", calls=1))
    assert app.core is not None
    for _ in range(200):
        established = [c for c in app.core.calls.values() if c.established_at is not None]
        if established:
            break
        await asyncio.sleep(0.05)
    (call,) = established
    hangup = models.Hangup(
        event_id=uuid.uuid4(),
        call_id=call.call_id,
        seq=1,
        occurred_at=datetime.now(UTC),
        source="dialog-test",
        trace_id=call.call_id,
        reason="agent_hangup",
    )
    async with EventProducer(bootstrap_servers=kafka) as producer:
        await producer.publish_and_wait(hangup, topic=topics.commands_topic(app.settings.node_id))
    result = await sipp
    assert result.returncode == 0, result.describe()
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    assert sip_names(records) == BASIC
    ended = records[-2]
    assert (ended.reason, ended.hangup_by) == ("agent_hangup", "agent")
    timeline = await read_call(call.call_id, bootstrap_servers=kafka)
    assert "Hangup" in [type(d.record).__name__ for d in timeline]


async def test_digest_authenticated_call(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    number, user, password = f"7{uuid.uuid4().int % 10**6:06d}", f"u{uuid.uuid4().hex[:6]}", "s3cret"
    now = datetime.now(UTC)
    common = {"occurred_at": now, "source": "test", "trace_id": "test"}
    plan = models.Dialplan(
        event_id=uuid.uuid4(), entity_id=f"auth-{number}", pattern=number, priority=1, action="agent",
        require_auth=True, **common,
    )  # fmt: skip
    sip_user = models.SipUser(
        event_id=uuid.uuid4(), entity_id=user, username=user, realm="sentiric",
        ha1_md5=compute_ha1("MD5", user, "sentiric", password),
        ha1_sha256=compute_ha1("SHA-256", user, "sentiric", password), **common,
    )  # fmt: skip
    async with EventProducer(bootstrap_servers=kafka) as producer:
        producer.publish(plan, topic=topics.CONFIG)
        producer.publish(sip_user, topic=topics.CONFIG)
        await producer.flush()
    app = await start_edge(sip_auth_algorithms="MD5")  # sipp answers only the first challenge, MD5 only
    failures = metric("sentiric_sip_auth_failures_total", reason="invalid")
    bad = await run_sipp(
        app.sip_port,
        tmp_path / "bad",
        scenario="uac_auth.xml",
        service=number,
        extra=["-au", user, "-ap", "nope"],
    )
    assert bad.returncode != 0  # 403, not the 200 the scenario expects
    assert metric("sentiric_sip_auth_failures_total", reason="invalid") - failures == 1
    good = await run_sipp(
        app.sip_port,
        tmp_path / "good",
        scenario="uac_auth.xml",
        service=number,
        extra=["-au", user, "-ap", password],
    )
    assert good.returncode == 0, good.describe()
    calls = await node_facts(app, kafka, 2)
    outcomes = sorted(tuple(sip_names(r)) for r in calls.values())
    assert outcomes == sorted(
        [
            ("CallInviteReceived", "DialplanResolved", "CallRejected", "CallEnded"),
            tuple(BASIC),
        ]
    )


async def test_reinvite_hold(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    result = await run_sipp(app.sip_port, tmp_path, scenario="uac_reinvite.xml")
    assert result.returncode == 0, result.describe()
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    names = sip_names(records)
    assert names == [*BASIC[:5], "CallMediaUpdated", "CallEnded", "MediaPortReleased"]
    assert next(r for r in records if type(r).__name__ == "CallMediaUpdated").direction == "recvonly"


async def test_late_offer(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    result = await run_sipp(app.sip_port, tmp_path, scenario="uac_late_offer.xml")
    assert result.returncode == 0, result.describe()
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    assert sip_names(records) == [*BASIC[:5], "CallMediaUpdated", "CallEnded", "MediaPortReleased"]
    answered = next(r for r in records if type(r).__name__ == "CallAnswered")
    assert "m=audio" in answered.sdp_answer


async def test_lost_ack_retransmits_then_bye(
    start_edge: StartEdge, kafka: str, config: Any, tmp_path: Path
) -> None:
    # A caller from a trunk has proven its address: its 200 OK is retransmitted until 64*T1 and the
    # unACKed call ends with a BYE. (An unproven UDP caller gets two copies and no BYE: unit tests and
    # test_sip_hostile.py.)
    now = datetime.now(UTC)
    carrier = models.Trunk(
        event_id=uuid.uuid4(), entity_id=f"lost-ack-{uuid.uuid4().hex[:6]}", occurred_at=now, source="test",
        trace_id="test", name="lost-ack", sources=("127.0.61.0/24",),
    )  # fmt: skip
    await config(carrier)
    app = await start_edge(sip_t1_ms=50)  # 64*T1 = 3.2 s
    retrans = metric("sentiric_sip_retransmissions_total")
    result = await run_sipp(
        app.sip_port, tmp_path, local_ip="127.0.61.1", scenario="uac_lost_ack.xml", timeout_s=30
    )
    assert result.returncode == 0, result.describe()
    assert metric("sentiric_sip_retransmissions_total") - retrans >= 5  # 200 OK resent until 64*T1
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    assert sip_names(records) == [*BASIC[:4], "CallEnded", "MediaPortReleased"]
    assert (records[-2].reason, records[-2].hangup_by) == ("ack_timeout", "system")


async def test_hundred_calls_at_20_per_second(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    result = await run_sipp(app.sip_port, tmp_path, calls=100, rate=20, timeout_s=60, extra=["-d", "500"])
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 100 and result.last("FailedCall(C)") == 0
    calls = await node_facts(app, kafka, 100)
    assert len(calls) == 100
    for records in calls.values():
        assert [r.seq for r in records] == list(range(1, len(records) + 1))
        assert sip_names(records) == BASIC
    assert len({r[0].sip_call_id for r in calls.values()}) == 100


async def test_basic_call_over_tcp(start_edge: StartEdge, kafka: str, tmp_path: Path) -> None:
    app = await start_edge()
    result = await run_sipp(app.sip_port, tmp_path, calls=3, extra=["-t", "t1", "-d", "200"])
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 3 and result.last("FailedCall(C)") == 0
    calls = await node_facts(app, kafka, 3)
    assert len(calls) == 3
    for records in calls.values():
        assert sip_names(records) == BASIC
        assert records[0].transport == "tcp"
        ended = next(r for r in records if type(r).__name__ == "CallEnded")
        assert (ended.reason, ended.hangup_by) == ("caller_bye", "caller")


async def test_exhausted_port_pool_gets_503_while_the_established_call_goes_on(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    base = free_rtp_range(2)[0]
    app = await start_edge(rtp_port_min=base, rtp_port_max=base + 1)  # one RTP port
    tcp = ["-t", "t1"]
    held = asyncio.create_task(run_sipp(app.sip_port, tmp_path / "held", extra=[*tcp, "-d", "3000"]))
    assert app.core is not None
    for _ in range(200):
        if any(c.established_at is not None for c in app.core.calls.values()):
            break
        await asyncio.sleep(0.02)
    refused = await run_sipp(app.sip_port, tmp_path / "refused", scenario="uac_refused.xml", extra=tcp)
    assert refused.returncode == 0, refused.describe()  # the 503 carried a Retry-After
    assert refused.last("SuccessfulCall(C)") == 1
    result = await held
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 1 and result.last("FailedCall(C)") == 0
    calls = await node_facts(app, kafka, 1)  # the held call's port release comes last
    outcomes = {tuple(sip_names(r)) for r in calls.values()}
    assert outcomes == {
        tuple(BASIC),
        ("CallInviteReceived", "CallRejected", "CallEnded"),
    }
    (rejected,) = [r for c in calls.values() for r in c if type(r).__name__ == "CallRejected"]
    assert (rejected.sip_status, rejected.stage) == (503, "overload")
