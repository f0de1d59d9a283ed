"""A caller asks for a person and the agent hands them over: sipp ↔ the edge ↔ the log ↔ a worker.

The agent dialplan for extension 4000 names a person to hand callers to. sipp (the caller's phone)
says "I want to talk to a person" (hibari's voice), and gets the agent's REFER (RFC 3515) once the
agent has said so: accepted (202, then NOTIFY with "SIP/2.0 200 OK": the edge leaves the call with a
BYE), or refused (603: the agent keeps the caller and tells them).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.app import EdgeApp
from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.producer import EventProducer
from streams.dialog.machine import DEFAULT_POLICY
from streams.engines.dialog import HANDOFF_INTENT
from tests.integration.e2e.stack import (
    FIXTURES,
    PERSON_PCAP,
    CallLog,
    Worker,
    caller_scenario,
    is_,
    served,
    settled,
    start_edge,
)
from tests.support.sipp import run_sipp

EXTENSION = "4000"
PERSON = "sip:person@127.0.0.2:5099"
PERSON_MS = 3000  # the pcap: 0.2 s silence, ~1.3 s of speech, 1.5 s silence


@dataclass
class Stack:
    edge: EdgeApp
    log: CallLog

    @property
    def node(self) -> str:
        return self.edge.settings.node_id


@pytest.fixture(scope="module")
async def stack(
    fresh_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("handoff")
    plan = m.Dialplan(
        event_id=uuid.uuid4(), entity_id="with-a-person", occurred_at=datetime.now(UTC), source="test",
        trace_id="test", pattern=EXTENSION, priority=1, action="agent", target=PERSON,
    )  # fmt: skip
    async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
        await producer.publish_and_wait(plan, topic=topics.CONFIG)
    # transfer_ring_s=0: a refused REFER fails at once (test_bridge.py has the edge bridge instead)
    edge = await start_edge(fresh_kafka, home / "edge", require_worker=True, transfer_ring_s=0.0)
    worker = Worker(fresh_kafka, home / "worker", machine_cache_dir)
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    try:
        worker.start()
        await log.start()
        await worker.ready()
        await served(edge)
        yield Stack(edge, log)
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()


async def call(stack: Stack, tmp_path: Path, template: str) -> tuple[str, list[Any]]:
    scenario = caller_scenario(
        tmp_path, PERSON_PCAP, before_ms=5000, pcap_ms=PERSON_MS, after_ms=30000, template=FIXTURES / template
    )
    start = len(stack.log.records)
    await settled(stack.edge)
    result = await run_sipp(stack.edge.sip_port, tmp_path, scenario=scenario, service=EXTENSION, timeout_s=90)
    invites = [r for r in stack.log.records[start:] if is_(m.CallInviteReceived, source=stack.node)(r.record)]
    assert len(invites) == 1, result.describe()
    call_id = str(invites[0].record.call_id)
    story = [(type(r.record).__name__, getattr(r.record, "text", None)) for r in stack.log.of(call_id)]
    assert result.returncode == 0, f"{story}\n{result.describe()}"
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    return call_id, [r.record for r in stack.log.of(call_id)]


def the(records: list[Any], cls: type[Any], **fields: Any) -> list[Any]:
    return [r for r in records if is_(cls, **fields)(r)]


async def test_a_caller_who_asks_for_a_person_is_transferred(stack: Stack, tmp_path: Path) -> None:
    _, records = await call(stack, tmp_path, "uac_caller_referred.xml")
    # The agent understood, said so in full, and only then transferred.
    (reply,) = the(records, m.AgentReplied, intent=HANDOFF_INTENT)
    (played,) = the(records, m.PlaybackFinished, playback_id=reply.reply_id)
    assert not played.interrupted
    (transfer,) = the(records, m.TransferCall)
    assert transfer.target_uri == PERSON
    assert records.index(played) < records.index(transfer)
    states = [s.to_state for s in the(records, m.DialogStateChanged)]
    assert "TRANSFERRING" in states
    # The edge's REFER was accepted, the new call answered (NOTIFY 200), and the edge left the call.
    progress = [(t.status, t.sip_status) for t in the(records, m.CallTransferred, target_uri=PERSON)]
    assert progress == [("requested", None), ("accepted", 202), ("completed", 200)], progress
    (ended,) = the(records, m.CallEnded)
    assert (ended.reason, ended.hangup_by) == ("transferred", "agent")


async def test_a_refused_transfer_leaves_the_caller_with_the_agent(stack: Stack, tmp_path: Path) -> None:
    _, records = await call(stack, tmp_path, "uac_caller_refuses_refer.xml")
    (transfer,) = the(records, m.TransferCall)
    progress = [(t.status, t.sip_status) for t in the(records, m.CallTransferred, target_uri=PERSON)]
    assert progress == [("requested", None), ("failed", 603)], progress
    # The agent told the caller, and the caller heard it before hanging up.
    (sorry,) = the(records, m.AgentReplied, text=DEFAULT_POLICY.handoff_failed)
    assert records.index(transfer) < records.index(sorry)
    (played,) = the(records, m.PlaybackFinished, playback_id=sorry.reply_id)
    assert not played.interrupted and played.played_ms > 1000
    (ended,) = the(records, m.CallEnded)
    assert ended.hangup_by == "caller"
    assert not the(records, m.Hangup)  # the agent did not give up on the caller
    await asyncio.sleep(0)
