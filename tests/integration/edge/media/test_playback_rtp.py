"""PlayAudio over real loopback RTP: the far end hears the prompt, on a 20 ms cadence, with continuous
sequence numbers and timestamps across prompts."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np

from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from schemas.envelope import envelope
from schemas.models import PlayAudio, PlaybackFinished, PlaybackStarted, StopPlayback
from tests.support.audio import correlation

from .conftest import FIXTURES


def play(call_id: str, pcm: np.ndarray, rate: int = 8000, **kw: object) -> PlayAudio:
    return PlayAudio(
        **envelope(call_id, seq=1, source="test"),
        playback_id=str(uuid.uuid4()),
        pcm=pcm.astype("<i2").tobytes(),
        sample_rate=rate,
        **kw,  # type: ignore[arg-type]
    )


async def test_two_prompts_arrive_decodable_steady_and_continuous(harness, make_caller) -> None:
    caller = await make_caller()
    session = await harness.open_session("call-play", caller.addr)
    prompt = load_wav(FIXTURES / "opening_hours_8k.wav")
    tone16k = (np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 9000).astype(np.int16)  # 1 s at 16 kHz
    first, second = play("call-play", prompt), play("call-play", tone16k, rate=16000)
    await harness.engine.execute(first)
    await harness.engine.execute(second)
    finished = await harness.wait_for(PlaybackFinished, 2, within=20)
    await asyncio.sleep(0.1)
    await session.close()

    assert [f.playback_id for f in finished] == [first.playback_id, second.playback_id]
    assert all(not f.interrupted and f.reason == "completed" for f in finished)
    assert finished[0].played_ms == prompt.size // 8
    started = harness.facts_of(PlaybackStarted)
    assert [s.playback_id for s in started] == [first.playback_id, second.playback_id]

    packets = caller.packets()
    assert len(packets) > (prompt.size + 8000) // 160
    seqs = np.array([p.sequence_number for p in packets])
    assert ((np.diff(seqs) % 65536) == 1).all()  # continuous across prompts and the silence between
    stamps = np.array([p.timestamp for p in packets], dtype=np.int64)
    assert ((np.diff(stamps) % (1 << 32)) == 160).all()
    assert len({p.ssrc for p in packets}) == 1

    audio = np.concatenate([PCMU.decode(p.payload) for p in packets])
    assert correlation(audio, prompt) > 0.9
    tone8k = (np.sin(2 * np.pi * 440 * np.arange(8000) / 8000) * 9000).astype(np.int16)
    assert correlation(audio, tone8k[400:7600]) > 0.9

    arrivals = np.array([t for t, _ in caller.received])
    spacing_ms = np.diff(arrivals) * 1000
    assert 10 <= np.percentile(spacing_ms, 99) <= 30
    assert 19.0 <= spacing_ms.mean() <= 21.0


async def test_stop_playback_reports_what_was_played(harness, make_caller) -> None:
    caller = await make_caller()
    session = await harness.open_session(
        "call-stop", caller.addr, codec="PCMA", payload_type=8, dtmf_payload_type=None
    )
    command = play("call-stop", np.full(8000 * 5, 3000, dtype=np.int16))
    await harness.engine.execute(command)
    await harness.wait_for(PlaybackStarted)
    await asyncio.sleep(0.3)
    await harness.engine.execute(
        StopPlayback(**envelope("call-stop", seq=2, source="test"), playback_id=command.playback_id)
    )
    (finished,) = await harness.wait_for(PlaybackFinished)
    await session.close()
    assert finished.interrupted and finished.reason == "stopped"
    assert 200 <= finished.played_ms <= 1000
    assert finished.duration_ms == 5000
    assert {p.payload_type for p in caller.packets()} == {8}
