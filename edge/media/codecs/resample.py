"""Sample-rate conversion of mono int16 PCM, with libsoxr (the ``soxr`` package).

- ``resample(pcm, in_rate, out_rate)``: one shot, for whole prompts and captured utterances
  (e.g. a 22.05 kHz WAV prompt → 8 kHz, an 8 kHz utterance → 16 kHz for a speech engine).
- ``StreamResampler``: continuous audio in chunks (e.g. 20 ms RTP frames → a streaming STT engine).
  It keeps the filter state between chunks, so the joined output equals (within 2 LSB of rounding)
  a one-shot conversion of the joined input once ``flush()`` has been called.
  libsoxr releases output in blocks: a chunk may yield no samples and a later one several chunks'
  worth; ``delay_samples`` says how much is held back.

Quality: libsoxr's "HQ" (20-bit, linear phase) for one-shot conversion; streaming defaults to "HQ" too,
at the cost of ~100 ms of buffering. "QQ" gives sample-for-sample output with negligible delay at
telephone-grade quality.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr

Int16Array = npt.NDArray[np.int16]
Quality = Literal["QQ", "LQ", "MQ", "HQ", "VHQ"]

TELEPHONY_RATE = 8000
WIDEBAND_RATE = 16000


def _check(pcm: Int16Array, in_rate: int, out_rate: int) -> None:
    if pcm.dtype != np.int16 or pcm.ndim != 1:
        raise TypeError(f"PCM must be mono int16, got {pcm.dtype} with {pcm.ndim} dimension(s)")
    if in_rate <= 0 or out_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {in_rate} and {out_rate}")


def resample(pcm: Int16Array, in_rate: int, out_rate: int, quality: Quality = "HQ") -> Int16Array:
    """Convert a whole signal from ``in_rate`` to ``out_rate`` (length scales by the rate ratio)."""
    _check(pcm, in_rate, out_rate)
    if in_rate == out_rate or pcm.size == 0:
        return pcm.copy()
    return np.asarray(soxr.resample(pcm, in_rate, out_rate, quality=quality), dtype=np.int16)


def to_8k(pcm: Int16Array, in_rate: int) -> Int16Array:
    """Any rate → 8 kHz (prompts)."""
    return resample(pcm, in_rate, TELEPHONY_RATE)


def upsample_8k_to_16k(pcm: Int16Array) -> Int16Array:
    return resample(pcm, TELEPHONY_RATE, WIDEBAND_RATE)


def downsample_16k_to_8k(pcm: Int16Array) -> Int16Array:
    return resample(pcm, WIDEBAND_RATE, TELEPHONY_RATE)


class StreamResampler:
    """Stateful converter for continuous audio fed in chunks."""

    __slots__ = ("_flushed", "_stream", "in_rate", "out_rate")

    def __init__(self, in_rate: int, out_rate: int, quality: Quality = "HQ") -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} and {out_rate}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream = soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16", quality=quality)
        self._flushed = False

    @property
    def delay_samples(self) -> float:
        """Output samples the converter holds back (filter delay plus block buffering)."""
        return float(self._stream.delay())

    def process(self, pcm: Int16Array) -> Int16Array:
        """Feed one chunk; return whatever output is ready (possibly empty)."""
        _check(pcm, self.in_rate, self.out_rate)
        if self._flushed:
            raise RuntimeError("resampler already flushed")
        return np.asarray(self._stream.resample_chunk(pcm), dtype=np.int16)

    def flush(self) -> Int16Array:
        """End of stream: return the samples still held back. The stream cannot be fed after this."""
        if self._flushed:
            return np.zeros(0, dtype=np.int16)
        self._flushed = True
        return np.asarray(self._stream.resample_chunk(np.zeros(0, dtype=np.int16), last=True), dtype=np.int16)

    def reset(self) -> None:
        """Start a new stream (e.g. a new utterance) with fresh filter state."""
        self._stream.clear()
        self._flushed = False
