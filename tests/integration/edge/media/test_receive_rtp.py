"""The caller's RTP into a session: endpointed utterances, RFC 4733 digits, barge-in, garbage, latching."""

from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from edge.media.rtp.dtmf import dtmf_packets
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.sender import RtpSender
from edge.media.session import DROPPED
from schemas.envelope import envelope
from schemas.models import (
    DtmfReceived,
    PlayAudio,
    PlaybackFinished,
    PlaybackStarted,
    SpeechStarted,
    UtteranceCaptured,
)
from tests.support.audio import correlation

from .conftest import FIXTURES, send_rtp_stream


def ulaw_frames(pcm: np.ndarray) -> list[bytes]:
    pcm = np.concatenate([pcm, np.zeros(-pcm.size % 160, dtype=np.int16)])
    return [PCMU.encode(pcm[i : i + 160]) for i in range(0, pcm.size, 160)]


async def open_call(harness, caller, call_id: str, remote: bool = True):
    session = await harness.open_session(call_id, caller.addr if remote else None)
    return session, ("127.0.0.1", session.local_port)


async def test_caller_speech_becomes_one_utterance_with_its_pcm(harness, make_caller) -> None:
    caller = await make_caller()
    session, to = await open_call(harness, caller, "call-utt", remote=False)
    speech = load_wav(FIXTURES / "opening_hours_8k.wav")
    silence = np.zeros(8000 * 3 // 2, dtype=np.int16)
    await send_rtp_stream(caller, to, ulaw_frames(np.concatenate([silence[:4000], speech, silence])))
    (utterance,) = await harness.wait_for(UtteranceCaptured)
    await session.close()

    assert utterance.sample_rate == 8000 and utterance.end_reason == "silence"
    pcm = np.frombuffer(utterance.pcm, dtype="<i2")
    assert pcm.size >= speech.size * 0.8
    pad = np.zeros(8000, dtype=np.int16)
    heard = np.concatenate([pad, PCMU.decode(PCMU.encode(speech)), pad])
    assert correlation(heard, pcm) > 0.9  # the utterance is the caller's speech, sample for sample
    (started,) = harness.facts_of(SpeechStarted)
    assert started.utterance_id == utterance.utterance_id
    assert session.remote_rtp == caller.addr  # latched: the session answers where the caller sends from
    assert caller.received, "symmetric RTP: the session sent to the learnt address"
    assert len(harness.facts_of(UtteranceCaptured)) == 1


async def test_rfc4733_digits_become_dtmf_facts(harness, make_caller) -> None:
    caller = await make_caller()
    session, to = await open_call(harness, caller, "call-dtmf")
    sender = RtpSender(0, ssrc=77)
    at = 0.0
    scheduled = []
    for digit in "1#9":
        scheduled += dtmf_packets(sender, digit, at, payload_type=101, duration_ms=120)
        at = scheduled[-1].at + 0.1
    start = time.monotonic()
    for item in scheduled:
        delay = start + item.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        caller.send(bytes(item.packet), to)
    digits = await harness.wait_for(DtmfReceived, 3)
    await session.close()
    assert [d.digit for d in digits] == ["1", "#", "9"]
    assert {d.method for d in digits} == {"rfc4733"}
    assert all(d.duration_ms == 120 for d in digits)


async def test_caller_speech_barges_in_on_a_prompt(harness, make_caller) -> None:
    caller = await make_caller()
    session, to = await open_call(harness, caller, "call-barge")
    prompt = (np.sin(2 * np.pi * 300 * np.arange(8000 * 10) / 8000) * 6000).astype(np.int16)
    command = PlayAudio(
        **envelope("call-barge", seq=1, source="test"),
        playback_id=str(uuid.uuid4()),
        pcm=prompt.tobytes(),
        sample_rate=8000,
        barge_in=True,
    )
    await harness.engine.execute(command)
    await harness.wait_for(PlaybackStarted)
    speech = load_wav(FIXTURES / "opening_hours_8k.wav")
    await send_rtp_stream(
        caller, to, ulaw_frames(np.concatenate([np.zeros(2000, dtype=np.int16), speech[:8000]]))
    )
    (finished,) = await harness.wait_for(PlaybackFinished)
    await session.close()
    assert finished.interrupted and finished.reason == "barge_in"
    assert 0 < finished.played_ms < 10_000
    (started,) = harness.facts_of(SpeechStarted)
    assert harness.publisher.records.index(started) < harness.publisher.records.index(finished)


async def test_garbage_is_dropped_and_counted_and_the_session_goes_on(harness, make_caller) -> None:
    caller = await make_caller()
    session, to = await open_call(harness, caller, "call-garbage")
    before = DROPPED.labels("malformed")._value.get()
    garbage = [
        b"\x80\x00\x01",  # shorter than a header
        b"\x80",
        b"\x00" * 20,  # version 0
        bytes([0x8F, 0]) + bytes(10),  # 15 CSRCs announced, none present
        bytes([0x90, 0]) + bytes(10) + b"\x00\x01",  # extension header cut short
        bytes([0xA0, 0]) + bytes(10) + b"\x00\x00\x00\x50",  # padding longer than the packet
    ]
    for data in garbage:
        caller.send(data, to)
    caller.send(bytes(RtpPacket(96, 1, 1, 5, b"xx")), to)  # well formed, unknown payload type
    await send_rtp_stream(caller, to, ulaw_frames(np.zeros(1600, dtype=np.int16)))
    await asyncio.sleep(0.1)
    sent_before_close = session.packets_sent
    await session.close()
    assert session.dropped["malformed"] == len(garbage)
    assert session.dropped["payload_type"] == 1
    assert DROPPED.labels("malformed")._value.get() - before == len(garbage)
    assert session.packets_received == 10
    assert sent_before_close > 0


async def test_packets_from_a_second_source_are_refused_while_the_first_talks(harness, make_caller) -> None:
    caller, intruder = await make_caller(), await make_caller()
    session, to = await open_call(harness, caller, "call-latch", remote=False)
    frames = ulaw_frames(np.zeros(800, dtype=np.int16))
    await send_rtp_stream(caller, to, frames)
    for i in range(3):
        intruder.send(bytes(RtpPacket(0, 50 + i, 0, 9, frames[0])), to)
    await asyncio.sleep(0.1)
    await session.close()
    assert session.dropped.get("unexpected_source") == 3
    assert session.remote_rtp == caller.addr
    assert not intruder.received
