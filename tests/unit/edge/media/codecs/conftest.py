"""Shared by the wideband codec tests: the speech fixture and a delay-aligned comparison."""

from __future__ import annotations

import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

FIXTURE = Path(__file__).parents[5] / "tests" / "fixtures" / "media" / "opening_hours_8k.wav"


@dataclass(frozen=True, slots=True)
class Comparison:
    lag: int  # samples the output lags the reference by
    correlation: float
    snr_db: float


def compare(reference: np.ndarray, output: np.ndarray, max_lag: int = 2000) -> Comparison:
    """Align ``output`` on ``reference`` by cross-correlation, then correlate and measure the SNR."""
    ref = reference.astype(np.float64)
    out = output.astype(np.float64)
    n = 1 << int(np.ceil(np.log2(ref.size + out.size)))
    xc = np.fft.irfft(np.fft.rfft(out, n) * np.conj(np.fft.rfft(ref, n)), n)
    candidates = np.concatenate([xc[: max_lag + 1], xc[-max_lag:]])
    best = int(np.argmax(candidates))
    lag = best if best <= max_lag else best - candidates.size
    aligned = out[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), out])
    m = min(ref.size, aligned.size)
    ref, aligned = ref[:m], aligned[:m]
    correlation = float(np.corrcoef(ref, aligned)[0, 1])
    snr = float(10 * np.log10(np.sum(ref**2) / max(np.sum((ref - aligned) ** 2), 1e-9)))
    return Comparison(lag, correlation, snr)


@pytest.fixture(scope="session")
def speech_8k() -> np.ndarray:
    """'What are your opening hours', espeak-ng through µ-law at 8 kHz (the SIP caller's question)."""
    with wave.open(str(FIXTURE)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


@pytest.fixture(scope="session")
def compare_audio() -> Callable[[np.ndarray, np.ndarray], Comparison]:
    return compare


def frames_of(pcm: np.ndarray, size: int) -> list[np.ndarray]:
    return [pcm[i : i + size] for i in range(0, pcm.size - size + 1, size)]


@pytest.fixture(scope="session")
def split_frames() -> Callable[[np.ndarray, int], list[np.ndarray]]:
    return frames_of
