"""VAD endpointing on synthetic voiced audio and on real (espeak-ng) speech."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from edge.media.vad.endpointer import (
    Endpointer,
    EndpointerConfig,
    EndpointerEvent,
    SpeechDiscarded,
    SpeechStarted,
    UtteranceEnded,
)

FIXTURE = Path(__file__).parents[4] / "fixtures" / "media" / "opening_hours_8k.wav"


def voiced(ms: int, rate: int = 8000) -> np.ndarray:
    """A speech-like signal: 140 Hz harmonic series with a 4 Hz syllabic amplitude envelope."""
    t = np.arange(rate * ms // 1000) / rate
    signal = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 20))
    signal = signal * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))
    return (signal / np.max(np.abs(signal)) * 12000).astype(np.int16)


def silence(ms: int, rate: int = 8000) -> np.ndarray:
    return np.zeros(rate * ms // 1000, dtype=np.int16)


def run(endpointer: Endpointer, pcm: np.ndarray) -> list[tuple[int, EndpointerEvent]]:
    step = endpointer.config.sample_rate // 50
    events = []
    for i in range(0, pcm.size - step + 1, step):
        now_ms = i * 1000 // endpointer.config.sample_rate
        events += [(now_ms, e) for e in endpointer.feed(pcm[i : i + step], now_ms)]
    return events


def test_silence_gives_no_events() -> None:
    assert run(Endpointer(), silence(3000)) == []


def test_one_utterance_with_pre_and_post_roll() -> None:
    pcm = np.concatenate([silence(500), voiced(1000), silence(1000)])
    events = run(Endpointer(), pcm)
    assert [type(e) for _, e in events] == [SpeechStarted, UtteranceEnded]
    assert events[0] == (540, SpeechStarted(at_ms=500))  # barge-in as soon as 60 ms of speech are seen
    emitted_at, ended = events[1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.reason == "silence" and ended.start_ms == 300  # 200 ms pre-roll
    # The voice stops at 1500 ms; 200 ms of post-roll follow it. webrtcvad alone keeps saying "speech"
    # for 80-120 ms more (its hangover); the energy gate ends the speech where the sound does.
    assert ended.end_ms == 1500 + 200
    assert emitted_at == 1500 + 700 - 20  # the frame completing 700 ms of silence
    assert np.array_equal(ended.samples, pcm[ended.start_ms * 8 : ended.end_ms * 8])


def noise(ms: int, dbfs: float, seed: int = 7) -> np.ndarray:
    rms = 32768 * 10 ** (dbfs / 20)
    return np.random.default_rng(seed).normal(0, rms, 8 * ms)


def test_unvoiced_tail_is_speech() -> None:
    """A final hiss (an "s") after the voice keeps the utterance open though the VAD may call it noise."""
    hiss = noise(160, -30).astype(np.int16)
    events = run(Endpointer(), np.concatenate([silence(500), voiced(1000), hiss, silence(1200)]))
    emitted_at, ended = events[-1]
    assert isinstance(ended, UtteranceEnded)
    assert ended.end_ms == 1660 + 200 and emitted_at == 1660 + 700 - 20


@pytest.mark.parametrize("aggressiveness", [0, 1, 2, 3])
def test_end_on_a_noisy_line(aggressiveness: int) -> None:
    """Speech in -40 dBFS white noise: the noise floor is learnt while idle, the end is where the
    voice stops (webrtcvad's own decision comes 120-160 ms later here), and a noise burst at the
    very start of the line (before any floor is known) is discarded, not sent as an utterance."""
    clean = np.concatenate([silence(1500), voiced(1000), silence(1500)]).astype(np.float64)
    pcm = np.clip(clean + noise(4000, -40), -32768, 32767).astype(np.int16)
    events = [e for _, e in run(Endpointer(EndpointerConfig(aggressiveness=aggressiveness)), pcm)]
    ended = [e for e in events if isinstance(e, UtteranceEnded)]
    assert len(ended) == 1 and ended[0].reason == "silence"
    assert ended[0].end_ms == 2500 + 200
    assert all(isinstance(e, SpeechStarted | SpeechDiscarded) for e in events if e is not ended[0])


def test_short_blip_is_discarded() -> None:
    events = run(Endpointer(), np.concatenate([silence(400), voiced(100), silence(1000)]))
    assert [type(e) for _, e in events] == [SpeechStarted, SpeechDiscarded]
    discarded = events[1][1]
    assert isinstance(discarded, SpeechDiscarded)
    assert discarded.start_ms == 400 and 500 <= discarded.end_ms <= 700


def test_max_length_cuts_and_restarts() -> None:
    config = EndpointerConfig(max_utterance_ms=1000, end_silence_ms=300)
    events = run(Endpointer(config), np.concatenate([silence(500), voiced(1200), silence(1000)]))
    kinds = [(type(e).__name__, getattr(e, "reason", None)) for _, e in events]
    assert kinds == [
        ("SpeechStarted", None),
        ("UtteranceEnded", "max_length"),
        ("SpeechStarted", None),
        ("UtteranceEnded", "silence"),
    ]
    first, second = events[1][1], events[3][1]
    assert isinstance(first, UtteranceEnded) and isinstance(second, UtteranceEnded)
    assert (first.start_ms, first.end_ms, first.duration_ms) == (300, 1300, 1000)
    assert second.start_ms == 1300  # continues where the cut was, nothing lost or repeated


def test_wideband_16k() -> None:
    config = EndpointerConfig(sample_rate=16000, aggressiveness=3)
    events = run(
        Endpointer(config), np.concatenate([silence(300, 16000), voiced(800, 16000), silence(900, 16000)])
    )
    ended = events[-1][1]
    assert isinstance(ended, UtteranceEnded) and ended.sample_rate == 16000
    assert ended.samples.size == (ended.end_ms - ended.start_ms) * 16


def test_flush_closes_utterance_at_stream_end() -> None:
    endpointer = Endpointer()
    run(endpointer, np.concatenate([silence(200), voiced(600)]))
    assert endpointer.in_speech
    (ended,) = endpointer.flush(800)
    assert isinstance(ended, UtteranceEnded) and ended.reason == "stream_end"
    assert (ended.start_ms, ended.end_ms) == (0, 800)
    assert not endpointer.in_speech and endpointer.flush(820) == []


def load_fixture() -> tuple[np.ndarray, int]:
    with wave.open(str(FIXTURE), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2"), wav.getframerate()


@pytest.mark.parametrize("aggressiveness", [0, 1, 2, 3])
def test_real_speech_is_one_utterance(aggressiveness: int) -> None:
    speech, rate = load_fixture()  # espeak-ng "what are your opening hours", 8 kHz, 1.86 s
    assert rate == 8000
    pcm = np.concatenate([silence(600), speech, silence(1500)])
    events = [e for _, e in run(Endpointer(EndpointerConfig(aggressiveness=aggressiveness)), pcm)]
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]
    started, ended = events
    assert isinstance(started, SpeechStarted) and isinstance(ended, UtteranceEnded)
    assert 600 <= started.at_ms <= 700
    assert ended.reason == "silence"
    assert 1500 <= ended.duration_ms <= 2500
    # the utterance holds (nearly) all of the speech energy
    speech_energy = float(np.sum(speech.astype(np.float64) ** 2))
    assert float(np.sum(ended.samples.astype(np.float64) ** 2)) > 0.98 * speech_energy


def test_real_speech_resampled_to_16k() -> None:
    from edge.media.codecs.resample import upsample_8k_to_16k

    speech, _ = load_fixture()
    pcm = upsample_8k_to_16k(np.concatenate([silence(600), speech, silence(1500)]))
    events = [e for _, e in run(Endpointer(EndpointerConfig(sample_rate=16000)), pcm)]
    assert [type(e) for e in events] == [SpeechStarted, UtteranceEnded]


def test_input_validation() -> None:
    endpointer = Endpointer()
    with pytest.raises(ValueError, match=r"VAD frame must be 20 ms \(320 bytes at 8000 Hz\), got 318 bytes"):
        endpointer.feed(b"\x00" * 318, 0)
    with pytest.raises(TypeError, match="PCM frame must be int16, got float64"):
        endpointer.feed(np.zeros(160), 0)
    with pytest.raises(ValueError, match="VAD sample rate must be 8000 or 16000, got 44100"):
        EndpointerConfig(sample_rate=44100)
    with pytest.raises(ValueError, match=r"VAD aggressiveness must be 0\.\.3, got 4"):
        EndpointerConfig(aggressiveness=4)
    with pytest.raises(ValueError, match="end_silence_ms must be at least 20 ms"):
        EndpointerConfig(end_silence_ms=0)
