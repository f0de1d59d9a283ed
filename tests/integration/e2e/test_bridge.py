"""A caller whose phone refuses REFER is bridged to the person by the edge itself (B2BUA, issue 14).

sipp (the caller) says "I want to talk to a person"; the agent says so and REFERs; the phone refuses
(603). The edge then calls the person itself — a second sipp, the person's phone on 127.0.0.2 — plays
ringback meanwhile, and on answer joins the two calls' media: what the caller says reaches the person
and what the person says reaches the caller, through the edge's RTP ports (tshark on the wire,
correlated with the fixtures' audio). The caller's BYE ends the person's call too. A busy person (486)
hands the caller back to the agent: CallTransferred failed, then the agent's handoff_failed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge.app import EdgeApp
from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port_for_both
from streams.dialog.machine import DEFAULT_POLICY
from tests.integration.e2e.stack import (
    FIXTURES,
    PERSON_PCAP,
    QUESTION_PCAP,
    CallLog,
    Capture,
    WirePacket,
    Worker,
    caller_scenario,
    is_,
    pcap_pcm,
    pcm_of,
    served,
    settled,
    start_edge,
)
from tests.support.sipp import SippResult, run_sipp

ANSWERS, BUSY = "4100", "4101"  # extensions whose agent hands callers to an answering / a busy person
ATTENDED = "4102"  # its plan's transfer_mode is attended: the person is briefed before the join
PERSON_MS = 3000  # the pcap: 0.2 s silence, ~1.3 s of speech, 1.5 s silence
PERSON_HOST = "127.0.0.2"


@dataclass
class Stack:
    edge: EdgeApp
    log: CallLog
    answering: int  # the person's phone: its SIP port on PERSON_HOST
    busy: int
    briefed: int  # the person of the attended extension

    @property
    def node(self) -> str:
        return self.edge.settings.node_id


def dialplan(extension: str, target: str, transfer_mode: str = "refer") -> m.Dialplan:
    return m.Dialplan(
        event_id=uuid.uuid4(), entity_id=f"bridge-{extension}", occurred_at=datetime.now(UTC), source="test",
        trace_id="test", pattern=extension, priority=1, action="agent", target=target,
        transfer_mode=transfer_mode,
    )  # fmt: skip


@pytest.fixture(scope="module")
async def stack(
    fresh_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    home = tmp_path_factory.mktemp("bridge")
    answering, busy = free_port_for_both(host=PERSON_HOST), free_port_for_both(host=PERSON_HOST)
    briefed = free_port_for_both(host=PERSON_HOST)
    async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
        for extension, port in ((ANSWERS, answering), (BUSY, busy)):
            await producer.publish_and_wait(
                dialplan(extension, f"sip:person@{PERSON_HOST}:{port}"), topic=topics.CONFIG
            )
        attended = dialplan(ATTENDED, f"sip:person@{PERSON_HOST}:{briefed}", transfer_mode="attended")
        await producer.publish_and_wait(attended, topic=topics.CONFIG)
    edge = await start_edge(fresh_kafka, home / "edge", require_worker=True, transfer_ring_s=20.0)
    worker = Worker(fresh_kafka, home / "worker", machine_cache_dir)
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    try:
        worker.start()
        await log.start()
        await worker.ready()
        await served(edge)
        yield Stack(edge, log, answering, busy, briefed)
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()


async def call(
    stack: Stack, tmp_path: Path, template: str, extension: str, person: str, person_port: int
) -> tuple[str, list[Any], SippResult]:
    """The caller's sipp against the edge while the person's sipp waits on PERSON_HOST:person_port."""
    scenario = caller_scenario(
        tmp_path, PERSON_PCAP, before_ms=5000, pcap_ms=PERSON_MS, after_ms=30000, template=FIXTURES / template
    )
    person_scenario = person  # a scenario of tests/fixtures/sipp, or one of FIXTURES saying QUESTION_PCAP
    if (FIXTURES / person).exists():
        person_scenario = caller_scenario(
            tmp_path / "person", QUESTION_PCAP, before_ms=0, pcap_ms=0, after_ms=0, template=FIXTURES / person
        )
    start = len(stack.log.records)
    await settled(stack.edge)
    phone = asyncio.create_task(
        run_sipp(
            0, tmp_path / "person-run", scenario=person_scenario, local_ip=PERSON_HOST,
            local_port=person_port, timeout_s=120,
        )
    )  # fmt: skip
    await asyncio.sleep(0.5)
    result = await run_sipp(stack.edge.sip_port, tmp_path, scenario=scenario, service=extension, timeout_s=90)
    invites = [r for r in stack.log.records[start:] if is_(m.CallInviteReceived, source=stack.node)(r.record)]
    inbound = [r for r in invites if r.record.direction == "inbound"]
    assert len(inbound) == 1, result.describe()
    call_id = str(inbound[0].record.call_id)
    story = [(type(r.record).__name__, getattr(r.record, "text", None)) for r in stack.log.of(call_id)]
    assert result.returncode == 0, f"{story}\n{result.describe()}"
    person_result = await phone
    assert person_result.returncode == 0, f"{story}\n{person_result.describe()}"
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    return call_id, [r.record for r in stack.log.of(call_id)], person_result


def the(records: list[Any], cls: type[Any], **fields: Any) -> list[Any]:
    return [r for r in records if is_(cls, **fields)(r)]


def likeness(stream: np.ndarray, ref: np.ndarray) -> float:
    """The best normalised cross-correlation of ``ref`` anywhere in ``stream`` (1.0: the same audio)."""
    if stream.size < ref.size or not ref.any():
        return 0.0
    s, r = stream.astype(np.float64), ref.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(s.size + r.size)))
    corr = np.fft.irfft(np.fft.rfft(s, n) * np.conj(np.fft.rfft(r, n)), n)[: s.size - r.size + 1]
    energy = np.convolve(s * s, np.ones(r.size), mode="valid")
    score = corr / (np.sqrt(np.maximum(energy, 1e-9)) * np.linalg.norm(r))
    return float(score.max())


def speech(pcm: np.ndarray) -> np.ndarray:
    """The loud part of a fixture's audio (its leading and trailing silence off)."""
    loud = np.flatnonzero(np.abs(pcm) > 500)
    return pcm[loud[0] : loud[-1]] if loud.size else pcm


def sent_from(packets: list[WirePacket], port: int) -> np.ndarray:
    return pcm_of([p for p in packets if p.src[1] == port])


async def test_a_refused_refer_is_bridged_by_the_edge_both_ways(stack: Stack, tmp_path: Path) -> None:
    settings = stack.edge.settings
    capture = Capture(tmp_path / "wire.pcap", settings.rtp_port_min, settings.rtp_port_max)
    await capture.start()
    try:
        _, records, _ = await call(
            stack, tmp_path, "uac_caller_bridged.xml", ANSWERS, "uas_person.xml", stack.answering
        )
    finally:
        packets = await capture.stop()
    person = f"sip:person@{PERSON_HOST}:{stack.answering}"
    progress = [(t.status, t.sip_status) for t in the(records, m.CallTransferred, target_uri=person)]
    assert progress == [("requested", None), ("bridging", 603), ("bridged", 200)], progress
    leg_id = the(records, m.CallTransferred, status="bridged")[0].leg_call_id
    leg = [r.record for r in stack.log.of(leg_id)]
    (leg_invite,) = the(leg, m.CallInviteReceived)
    assert leg_invite.direction == "outbound" and leg_invite.to_uri == person
    assert not the(leg, m.UtteranceCaptured)  # nobody listens to the person: no agent, no transcripts
    (bridged,) = the(records, m.CallTransferred, status="bridged")
    assert not [u for u in the(records, m.UtteranceCaptured) if records.index(u) > records.index(bridged)]
    # the caller hung up: the edge BYEd the person (sipp's scenario waited for it)
    (ended,) = the(records, m.CallEnded)
    assert ended.hangup_by == "caller"
    (leg_ended,) = the(leg, m.CallEnded)
    assert leg_ended.hangup_by == "caller"
    # the media: the caller's words reached the person, the person's reached the caller
    (caller_port,) = [f.rtp_port for f in the(records, m.MediaPortAllocated)]
    (leg_port,) = [f.rtp_port for f in the(leg, m.MediaPortAllocated)]
    to_person, to_caller = sent_from(packets, leg_port), sent_from(packets, caller_port)
    assert likeness(to_person, speech(pcap_pcm(PERSON_PCAP))) > 0.8
    assert likeness(to_caller, speech(pcap_pcm(QUESTION_PCAP))) > 0.8


async def test_a_busy_person_hands_the_caller_back_to_the_agent(stack: Stack, tmp_path: Path) -> None:
    _, records, _ = await call(
        stack, tmp_path, "uac_caller_refuses_refer.xml", BUSY, "uas_busy.xml", stack.busy
    )
    person = f"sip:person@{PERSON_HOST}:{stack.busy}"
    progress = [(t.status, t.sip_status) for t in the(records, m.CallTransferred, target_uri=person)]
    assert progress == [("requested", None), ("bridging", 603), ("failed", 486)], progress
    (failed,) = the(records, m.CallTransferred, status="failed")
    (sorry,) = the(records, m.AgentReplied, text=DEFAULT_POLICY.handoff_failed)
    assert records.index(failed) < records.index(sorry)
    (played,) = the(records, m.PlaybackFinished, playback_id=sorry.reply_id)
    assert not played.interrupted
    (ended,) = the(records, m.CallEnded)
    assert ended.hangup_by == "caller"


async def test_an_attended_handoff_briefs_the_person_before_the_caller_is_joined(
    stack: Stack, tmp_path: Path
) -> None:
    """The caller asks for a person; the plan says attended: the person hears the agent's brief (why the
    caller comes) before any of the caller's audio, then the two talk through the edge both ways."""
    settings = stack.edge.settings
    capture = Capture(tmp_path / "wire.pcap", settings.rtp_port_min, settings.rtp_port_max)
    # the caller keeps saying it, 10 times: the later ones reach the person
    caller = caller_scenario(
        tmp_path / "caller", PERSON_PCAP, before_ms=5000, pcap_ms=PERSON_MS, after_ms=1000,
        template=FIXTURES / "uac_caller_talks.xml",
    )  # fmt: skip
    person = caller_scenario(
        tmp_path / "person", QUESTION_PCAP, before_ms=12000, pcap_ms=0, after_ms=0,
        template=FIXTURES / "uas_person_listens.xml",
    )  # fmt: skip
    start = len(stack.log.records)
    await settled(stack.edge)
    await capture.start()
    try:
        phone = asyncio.create_task(
            run_sipp(
                0, tmp_path / "person-run", scenario=person, local_ip=PERSON_HOST, local_port=stack.briefed,
                timeout_s=120,
            )
        )  # fmt: skip
        await asyncio.sleep(0.5)
        result = await run_sipp(
            stack.edge.sip_port, tmp_path, scenario=caller, service=ATTENDED, timeout_s=120
        )
        person_result = await phone
    finally:
        packets = await capture.stop()
    invites = [r for r in stack.log.records[start:] if is_(m.CallInviteReceived, source=stack.node)(r.record)]
    (inbound,) = [r for r in invites if r.record.direction == "inbound"]
    call_id = str(inbound.record.call_id)
    await stack.log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "MediaPortReleased")
    records = [r.record for r in stack.log.of(call_id)]
    story = [(type(r).__name__, getattr(r, "text", None) or getattr(r, "status", None)) for r in records]
    assert result.returncode == 0, f"{story}\n{result.describe()}"
    assert person_result.returncode == 0, f"{story}\n{person_result.describe()}"
    target = f"sip:person@{PERSON_HOST}:{stack.briefed}"
    progress = [(t.status, t.sip_status) for t in the(records, m.CallTransferred, target_uri=target)]
    assert progress == [("requested", None), ("bridging", None), ("briefing", 200), ("bridged", 200)], story
    (bridged,) = the(records, m.CallTransferred, status="bridged")
    leg = [r.record for r in stack.log.of(bridged.leg_call_id)]
    (said,) = the(leg, m.SpeechSynthesized)
    assert said.text == "Transferring sipp: the caller asked to speak to a person.", said.text
    (leg_port,) = [f.rtp_port for f in the(leg, m.MediaPortAllocated)]
    (caller_port,) = [f.rtp_port for f in the(records, m.MediaPortAllocated)]
    to_person = sorted((p for p in packets if p.src[1] == leg_port), key=lambda p: p.at)
    loud = [p.at for p in to_person if np.abs(pcm_of([p])).max(initial=0) > 500]
    assert loud and loud[0] < bridged.occurred_at.timestamp(), "the brief came first"
    callers_words = speech(pcap_pcm(PERSON_PCAP))
    after_join = [p for p in to_person if p.at > bridged.occurred_at.timestamp()]
    assert likeness(pcm_of(after_join), callers_words) > 0.8  # the caller's words, through the bridge
    assert likeness(sent_from(packets, caller_port), speech(pcap_pcm(QUESTION_PCAP))) > 0.8
