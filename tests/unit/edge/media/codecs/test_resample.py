from __future__ import annotations

import numpy as np
import pytest

from edge.media.codecs.resample import (
    StreamResampler,
    downsample_16k_to_8k,
    resample,
    to_8k,
    upsample_8k_to_16k,
)


def tone(freq: float, rate: int, seconds: float, amplitude: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def dominant_frequency(pcm: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(pcm.astype(np.float64) * np.hanning(pcm.size)))
    return float(np.argmax(spectrum) * rate / pcm.size)


def test_8k_to_16k_doubles_length_and_keeps_pitch() -> None:
    pcm = tone(440, 8000, 1.0)
    out = upsample_8k_to_16k(pcm)
    assert out.dtype == np.int16 and out.size == 16000
    assert dominant_frequency(out, 16000) == pytest.approx(440, abs=2)
    # amplitude preserved (no gain change) away from the edges
    assert np.max(np.abs(out[1000:-1000])) == pytest.approx(10000, rel=0.02)


def test_16k_to_8k_removes_content_above_nyquist() -> None:
    pcm = (tone(1000, 16000, 1.0).astype(np.int32) + tone(6000, 16000, 1.0)).astype(np.int16)
    out = downsample_16k_to_8k(pcm)
    assert out.size == 8000
    spectrum = np.abs(np.fft.rfft(out[400:-400].astype(np.float64)))
    freqs = np.fft.rfftfreq(out[400:-400].size, 1 / 8000)
    at_1k = spectrum[np.argmin(np.abs(freqs - 1000))]
    alias_2k = spectrum[np.argmin(np.abs(freqs - 2000))]  # 6 kHz would alias to 2 kHz
    assert alias_2k < at_1k / 1000


@pytest.mark.parametrize("rate", [11025, 22050, 44100, 48000, 16000, 8000])
def test_prompt_rates_to_8k(rate: int) -> None:
    out = to_8k(tone(300, rate, 0.5), rate)
    assert out.size == 4000
    assert dominant_frequency(out, 8000) == pytest.approx(300, abs=4)


def test_stream_resampler_matches_one_shot_after_flush() -> None:
    pcm = tone(700, 8000, 1.0)
    stream = StreamResampler(8000, 16000)
    chunks = [stream.process(pcm[i : i + 160]) for i in range(0, pcm.size, 160)]
    chunks.append(stream.flush())
    joined = np.concatenate(chunks)
    assert joined.size == 16000
    assert np.max(np.abs(joined.astype(int) - resample(pcm, 8000, 16000).astype(int))) <= 2  # rounding
    assert stream.flush().size == 0
    with pytest.raises(RuntimeError, match="resampler already flushed"):
        stream.process(pcm[:160])
    stream.reset()
    assert stream.process(pcm[:160]).dtype == np.int16


def test_low_delay_stream_yields_every_chunk() -> None:
    stream = StreamResampler(16000, 8000, quality="QQ")
    sizes = [stream.process(tone(500, 16000, 0.02)).size for _ in range(10)]
    assert sum(sizes[1:]) == 9 * 160 and stream.delay_samples >= 0


def test_rejects_wrong_input() -> None:
    with pytest.raises(TypeError, match="PCM must be mono int16, got float32 with 1 dimension"):
        resample(np.zeros(10, dtype=np.float32), 8000, 16000)
    with pytest.raises(ValueError, match="sample rates must be positive, got 0 and 8000"):
        resample(np.zeros(10, dtype=np.int16), 0, 8000)
    assert resample(np.zeros(0, dtype=np.int16), 8000, 16000).size == 0
