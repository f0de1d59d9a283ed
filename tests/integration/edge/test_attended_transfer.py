"""Attended transfer on the wire (issue 14): the edge calls the person, the agent briefs them, then
the calls are joined.

A sipp caller reaches an agent extension whose dialplan says ``transfer_mode: attended``; a
``TransferCall`` (what the dialog or an operator sends) arrives on the edge's command topic with a
brief. The edge calls the person — a second sipp on 127.0.0.2 — while the caller holds; when the
person answers, the edge's own TTS says "Transferring sipp: <brief>" on that leg (recorded as the
leg's ``SpeechSynthesized``), and once it has played the two calls' media are joined. tshark on the
loopback shows the brief's speech reaching the person before any of the caller's audio does, then
the caller's words reaching the person and the person's reaching the caller, through the edge.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from schemas import models as m
from schemas.envelope import envelope
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port_for_both
from tests.integration.e2e.stack import (
    FIXTURES,
    PERSON_PCAP,
    QUESTION_PCAP,
    Capture,
    WirePacket,
    caller_scenario,
    pcap_pcm,
)
from tests.integration.e2e.test_bridge import likeness, speech
from tests.support.sipp import run_sipp

from .conftest import StartEdge, node_facts
from .test_commands import wait_for

EXTENSION = "4210"
PERSON_HOST = "127.0.0.2"
BRIEF = "the caller wants to move a booking to Friday"
PERSON_LISTENS_MS = 14000  # after answering: the brief, then the caller's words, then the person speaks
CALLER_SPEAKS_AT_MS = 11000  # after the caller's ACK: well after the brief, within the person's pause
LOUD = 500  # |sample| above this is speech, not the line's comfort noise or silence


def dialplan(target: str) -> m.Dialplan:
    return m.Dialplan(
        event_id=uuid.uuid4(), entity_id="attended-4210", occurred_at=datetime.now(UTC), source="test",
        trace_id="test", pattern=EXTENSION, priority=1, action="agent", target=target,
        transfer_mode="attended", transfer_ring_s=15.0,
    )  # fmt: skip


def stream(packets: list[WirePacket], src_port: int) -> tuple[np.ndarray, np.ndarray]:
    """The µ-law audio a port sent, with each sample's capture time."""
    from edge.media.codecs.g711 import ulaw_decode

    sent = sorted(
        (p for p in packets if p.src[1] == src_port and p.rtp.payload_type == 0), key=lambda p: p.at
    )
    if not sent:
        return np.zeros(0, dtype=np.int16), np.zeros(0)
    pcm = [ulaw_decode(p.rtp.payload) for p in sent]
    times = np.concatenate([np.full(len(chunk), p.at) for chunk, p in zip(pcm, sent, strict=True)])
    return np.concatenate(pcm), times


def found_at(pcm: np.ndarray, times: np.ndarray, ref: np.ndarray) -> float:
    """When ``ref`` (a fixture's speech) starts in ``pcm``: the best cross-correlation's capture time."""
    s, r = pcm.astype(np.float64), ref.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(s.size + r.size)))
    corr = np.fft.irfft(np.fft.rfft(s, n) * np.conj(np.fft.rfft(r, n)), n)[: s.size - r.size + 1]
    energy = np.convolve(s * s, np.ones(r.size), mode="valid")
    return float(times[int(np.argmax(corr / np.sqrt(np.maximum(energy, 1e-9))))])


def of(records: list[Any], name: str) -> list[Any]:
    return [r for r in records if type(r).__name__ == name]


async def test_the_person_hears_the_brief_then_the_calls_are_joined_both_ways(
    start_edge: StartEdge,
    config: Callable[..., Awaitable[None]],
    kafka: str,
    tmp_path: Path,
) -> None:
    person_port = free_port_for_both(host=PERSON_HOST)
    target = f"sip:person@{PERSON_HOST}:{person_port}"
    await config(dialplan(target))
    app = await start_edge(greeting_timeout_s=300.0)  # no dialog worker here: no greeting is coming
    assert app.core is not None
    await wait_for(lambda: any(p.dialplan_id == "attended-4210" for p in app.config.dialplans()), "the plan")
    settings = app.settings
    capture = Capture(tmp_path / "wire.pcap", settings.rtp_port_min, settings.rtp_port_max)
    await capture.start()
    person_scenario = caller_scenario(
        tmp_path / "person", QUESTION_PCAP, before_ms=PERSON_LISTENS_MS, pcap_ms=0, after_ms=0,
        template=FIXTURES / "uas_person_listens.xml",
    )  # fmt: skip
    caller = caller_scenario(
        tmp_path / "caller", PERSON_PCAP, before_ms=CALLER_SPEAKS_AT_MS, pcap_ms=3000, after_ms=8000
    )
    try:
        person = asyncio.create_task(
            run_sipp(
                0, tmp_path / "person-run", scenario=person_scenario, local_ip=PERSON_HOST,
                local_port=person_port, timeout_s=90,
            )
        )  # fmt: skip
        await asyncio.sleep(0.5)
        calling = asyncio.create_task(
            run_sipp(app.sip_port, tmp_path / "caller-run", scenario=caller, service=EXTENSION, timeout_s=90)
        )
        await wait_for(lambda: [c for c in app.core.calls.values() if c.established_at is not None], "call")
        (call,) = [c for c in app.core.calls.values() if c.established_at is not None]
        transfer = m.TransferCall(
            **envelope(call.call_id, seq=1, source="dialog-test"), target_uri=target, brief=BRIEF
        )
        async with EventProducer(bootstrap_servers=kafka) as producer:
            await producer.publish_and_wait(transfer, topic=settings.commands_topic)
        caller_result = await calling
        person_result = await person
    finally:
        packets = await capture.stop()
    assert caller_result.returncode == 0, caller_result.describe()
    assert person_result.returncode == 0, person_result.describe()

    calls = await node_facts(app, kafka, 2)
    records = calls[call.call_id]
    progress = [(t.status, t.sip_status) for t in of(records, "CallTransferred")]
    assert progress == [("requested", None), ("bridging", None), ("briefing", 200), ("bridged", 200)], (
        progress
    )
    leg_id = of(records, "CallTransferred")[-1].leg_call_id
    leg = calls[leg_id]
    (invite,) = of(leg, "CallInviteReceived")
    assert (invite.direction, invite.to_uri, invite.parent_call_id) == ("outbound", target, call.call_id)
    (said,) = of(leg, "SpeechSynthesized")
    assert said.text == f"Transferring sipp: {BRIEF}."
    (brief_done,) = [p for p in of(leg, "PlaybackFinished") if p.playback_id == said.reply_id]
    assert not brief_done.interrupted
    (bridged,) = [t for t in of(records, "CallTransferred") if t.status == "bridged"]
    (ended,) = of(records, "CallEnded")
    assert ended.hangup_by == "caller"  # the caller hung up; the edge BYEd the person (sipp waited for it)

    (caller_port,) = [f.rtp_port for f in of(records, "MediaPortAllocated")]
    (leg_port,) = [f.rtp_port for f in of(leg, "MediaPortAllocated")]
    to_person, to_person_at = stream(packets, leg_port)
    to_caller, _ = stream(packets, caller_port)
    loud_at = to_person_at[np.abs(to_person) > LOUD]
    assert loud_at.size, "nothing audible reached the person"
    first_words = float(loud_at[0])  # the brief: the first speech the person hears
    joined_at = bridged.occurred_at.timestamp()
    assert first_words < joined_at, (first_words, joined_at)
    callers_words = speech(pcap_pcm(PERSON_PCAP))
    assert likeness(to_person, callers_words) > 0.8  # the caller's words reached the person …
    assert first_words < found_at(to_person, to_person_at, callers_words)  # … after the brief
    assert likeness(to_caller, speech(pcap_pcm(QUESTION_PCAP))) > 0.8  # and the person's the caller
