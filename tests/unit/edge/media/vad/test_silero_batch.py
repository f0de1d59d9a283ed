"""Batched Silero scoring: one inference for many streams' windows, the same answers as one by one."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from edge.media.vad.silero import SileroBatch, SileroStream, model

FIXTURES = Path(__file__).parents[4] / "fixtures"


def load_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def frames(pcm: np.ndarray, rate: int) -> list[bytes]:
    step = rate // 50
    return [pcm[i : i + step].astype("<i2").tobytes() for i in range(0, pcm.size - step + 1, step)]


def streams_audio(count: int, rate: int) -> list[list[bytes]]:
    """``count`` different streams: speech at different offsets and gains, noise, silence, a tone."""
    wav = "media/opening_hours_8k.wav" if rate == 8000 else "speech/opening_hours_16k.wav"
    speech = load_wav(FIXTURES / wav).astype(np.float64)
    rng = np.random.default_rng(7)
    out = []
    for k in range(count):
        lead = np.zeros(rate * (k % 5) // 10 + 17 * k)  # window boundaries fall differently per stream
        noise = rng.normal(0, 32768 * 10 ** ((-60 + 5 * (k % 7)) / 20), speech.size + lead.size)
        pcm = np.concatenate([lead, speech * (0.2 + 0.15 * (k % 6))]) + noise
        if k % 4 == 3:
            pcm = 3000 * np.sin(np.arange(pcm.size) * 2 * np.pi * 440 / rate)
        out.append(frames(np.clip(pcm, -32768, 32767).astype(np.int16), rate))
    return out


def test_the_model_takes_a_batch_of_windows_and_states() -> None:
    """What batching relies on: Silero v5's graph has a free batch axis on input and state."""
    inputs = {i.name: i.shape for i in model().get_inputs()}
    assert inputs["input"][0] != 1 and len(inputs["input"]) == 2
    assert inputs["state"][0] == 2 and inputs["state"][1] != 1 and inputs["state"][2] == 128
    probabilities, state = model().run(
        None,
        {
            "input": np.zeros((3, 288), np.float32),
            "state": np.zeros((2, 3, 128), np.float32),
            "sr": np.array(8000, np.int64),
        },
    )
    assert probabilities.shape == (3, 1) and state.shape == (2, 3, 128)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_batched_probabilities_equal_one_by_one(rate: int) -> None:
    """N streams of different audio, fed frame by frame in lock step: each window scored in a batch
    (one run per tick, as the media clock does) has the probability it has scored alone, within 1e-5,
    and every decision is the same."""
    audio = streams_audio(12, rate)
    batch = SileroBatch()
    batched = [SileroStream(rate, batch=batch) for _ in audio]
    alone = [SileroStream(rate) for _ in audio]
    ticks = max(len(a) for a in audio)
    worst = 0.0
    scored = decisions = 0
    for t in range(ticks):
        for stream, single, stream_frames in zip(batched, alone, audio, strict=True):
            if t < len(stream_frames):
                stream.push(stream_frames[t])
                single.push(stream_frames[t])
        queued = len(batch)
        batch.run()
        scored += queued
        assert len(batch) == 0
        for stream, single in zip(batched, alone, strict=True):
            assert stream.windows == single.windows
            worst = max(worst, abs(stream.probability - single.probability))
            assert stream.decision() == single.decision()
            decisions += single.decision()
    assert worst < 1e-5
    assert batch.windows == scored == sum(s.windows for s in alone)
    assert batch.runs < scored / 4  # windows were really batched (most ticks complete several)
    assert decisions > 0 and any(s.decision() is False for s in alone)  # speech and non-speech both


def test_decision_runs_a_batch_that_has_not_run() -> None:
    """A stream asked for its decision while its window waits scores it (the synchronous path)."""
    speech = frames(load_wav(FIXTURES / "media" / "opening_hours_8k.wav"), 8000)
    batch = SileroBatch()
    stream, other, single = (
        SileroStream(8000, batch=batch),
        SileroStream(8000, batch=batch),
        SileroStream(8000),
    )
    for frame in speech[:40]:
        other.push(frame)
        assert stream.is_speech(frame) == single.is_speech(frame)
        assert stream.probability == pytest.approx(single.probability, abs=1e-5)
    assert len(batch) == 0 and other.windows == stream.windows  # the run scored the other's window too


def test_a_second_window_before_the_run_scores_the_first() -> None:
    """Two frames pushed without a run (two windows): the first is scored before the second queues,
    since the second's state is the first's output."""
    speech = frames(load_wav(FIXTURES / "media" / "opening_hours_8k.wav"), 8000)
    batch = SileroBatch()
    stream, single = SileroStream(8000, batch=batch), SileroStream(8000)
    for frame in speech[:50]:
        stream.push(frame)
        single.push(frame)
    assert stream.decision() == single.decision()
    assert stream.windows == single.windows
    assert stream.probability == pytest.approx(single.probability, abs=1e-5)


def test_reset_drops_a_queued_window() -> None:
    speech = frames(load_wav(FIXTURES / "media" / "opening_hours_8k.wav"), 8000)
    batch = SileroBatch()
    stream = SileroStream(8000, batch=batch)
    stream.push(speech[10])
    stream.push(speech[11])  # 320 samples: one window queued
    assert len(batch) == 1
    stream.reset()
    assert len(batch) == 0
    batch.run()
    assert stream.windows == 0 and stream.decision() is False
