"""Audio comparisons for tests that check what crossed the wire is the audio that was sent."""

from __future__ import annotations

import numpy as np


def correlation(received: np.ndarray, reference: np.ndarray) -> float:
    """Peak normalised cross-correlation of ``reference`` inside ``received`` (both int16)."""
    x = received.astype(np.float64)
    y = reference.astype(np.float64)
    if x.size < y.size:
        x = np.concatenate([x, np.zeros(y.size - x.size)])
    n = 1 << int(np.ceil(np.log2(x.size + y.size)))
    corr = np.fft.irfft(np.fft.rfft(x, n) * np.conj(np.fft.rfft(y, n)), n)[: x.size - y.size + 1]
    lag = int(np.argmax(corr))
    window = x[lag : lag + y.size]
    return float(np.corrcoef(window, y)[0, 1])
