"""Caller identification over SIP: sipp ↔ the edge ↔ the log ↔ a worker.

A contact is configured for +4930123456. sipp calls from that number (its phone also sends a display
name, which must not matter) and the agent's greeting on the log names the contact; sipp calls from
another number claiming to be "Alice Smith" in its From display name and gets the plain greeting —
the display name is recorded as a claim, never as the caller's name.
"""

from __future__ import annotations

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
from streams.dialog.machine import MACHINE_ENGINE
from tests.integration.e2e.stack import (
    QUESTION_PCAP,
    CallLog,
    Worker,
    caller_scenario,
    is_,
    served,
    settled,
    start_edge,
)
from tests.support.sipp import run_sipp

KNOWN = "+4930123456"
QUESTION_MS = 3600  # the pcap: 0.2 s silence, 1.86 s question, 1.5 s silence
SIPP_FROM = "From: sipp <sip:sipp@"


@dataclass
class Stack:
    edge: EdgeApp
    log: CallLog


@pytest.fixture(scope="module")
async def stack(
    fresh_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("callerid")
    alice = m.Contact(
        event_id=uuid.uuid4(), entity_id="alice", occurred_at=datetime.now(UTC), source="test",
        trace_id="test", numbers=("+49 30 123456",), name="Alice Smith", profile='{"tier": "gold"}',
    )  # fmt: skip
    async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
        await producer.publish_and_wait(alice, topic=topics.CONFIG)
    edge = await start_edge(fresh_kafka, home / "edge", require_worker=True)
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


def scenario_from(tmp_path: Path, from_header: str) -> str:
    """The caller scenario with its From header starting `from_header` (then `@host:port>;tag=...`)."""
    path = Path(caller_scenario(tmp_path, QUESTION_PCAP, before_ms=4000, pcap_ms=QUESTION_MS, after_ms=3000))
    text = path.read_text()
    assert SIPP_FROM in text
    path.write_text(text.replace(SIPP_FROM, from_header, 1))
    return str(path)


async def call_from(stack: Stack, tmp_path: Path, from_header: str) -> list[Any]:
    """One sipp call from `from_header`; its records once its port is released."""
    path = scenario_from(tmp_path, from_header)
    start = len(stack.log.records)
    await settled(stack.edge)
    result = await run_sipp(stack.edge.sip_port, tmp_path, scenario=path, service="1000", timeout_s=60)
    node = stack.edge.settings.node_id
    invites = [r for r in stack.log.records[start:] if is_(m.CallInviteReceived, source=node)(r.record)]
    assert len(invites) == 1, result.describe()
    call_id = str(invites[0].record.call_id)
    assert result.returncode == 0, result.describe()
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    return [r.record for r in stack.log.of(call_id)]


def greeting_of(records: list[Any]) -> m.AgentReplied:
    (greeting,) = [r for r in records if is_(m.AgentReplied, engine=MACHINE_ENGINE, intent="greeting")(r)]
    return greeting


async def test_a_known_number_is_greeted_by_the_contacts_name(stack: Stack, tmp_path: Path) -> None:
    records = await call_from(stack, tmp_path, f'From: "Desk 7" <sip:{KNOWN}@')
    (plan,) = [r for r in records if isinstance(r, m.DialplanResolved)]
    assert (plan.caller, plan.caller_matched_by, plan.caller_contact_id, plan.caller_name) == (
        KNOWN,
        "contact",
        "alice",
        "Alice Smith",
    )
    assert plan.caller_claimed_name == "Desk 7"
    greeting = greeting_of(records)
    assert greeting.text == "Hello Alice Smith, thank you for calling. How can I help you?"
    assert any(is_(m.SpeechSynthesized, reply_id=greeting.reply_id)(r) for r in records)  # and it was voiced


async def test_an_unknown_number_claiming_a_name_gets_the_plain_greeting(
    stack: Stack, tmp_path: Path
) -> None:
    records = await call_from(stack, tmp_path, 'From: "Alice Smith" <sip:+15550001@')
    (plan,) = [r for r in records if isinstance(r, m.DialplanResolved)]
    assert (plan.caller, plan.caller_matched_by, plan.caller_name) == ("+15550001", "none", None)
    assert plan.caller_claimed_name == "Alice Smith"  # recorded as a claim, never as the name
    assert greeting_of(records).text == "Hello, thank you for calling. How can I help you?"
