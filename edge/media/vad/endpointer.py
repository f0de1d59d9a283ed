"""Utterance endpointing over 20 ms frames of 8 or 16 kHz int16 PCM, with Silero VAD (or webrtcvad).

``Endpointer.feed(frame, now_ms)`` classifies one frame (speech / not speech: ``classifier``, Silero
VAD by default, webrtcvad at an aggressiveness of 0-3 if configured) and runs a small state machine:

    IDLE ──(start_ms of consecutive speech)──▶ SPEECH ──(end_silence_ms of non-speech)──▶ IDLE
                                                  └──(max_utterance_ms reached)─────────▶ IDLE

- Entering SPEECH emits ``SpeechStarted`` at once (the dialog uses it for barge-in).
- In SPEECH, a frame counts as speech only if it is louder than the line's noise floor by
  ``end_margin_db`` (and above ``end_floor_dbfs``) *and* the VAD says speech or said so within
  ``unvoiced_tail_ms`` (a final unvoiced consonant, such as the "s" of "hours", which a VAD may call
  non-speech). So ``end_silence_ms`` counts from the last audible frame of the speech: the VADs alone
  hold "speech" after the voice stops (~100 ms, webrtcvad and Silero alike: its internal hangover, a
  32 ms window and its hysteresis; ``bench/vad_bench.py``), which would add to every end of speech.
  The floor is a slow average of the frames the VAD calls non-speech while IDLE, which is why a VAD
  that calls noise speech (webrtcvad on a noisy line) also leaves the floor unlearnt.
- Leaving on silence emits ``UtteranceEnded(reason="silence")`` with the audio from ``pre_roll_ms``
  before the speech onset to ``post_roll_ms`` after the last speech frame — unless the speech lasted
  less than ``min_utterance_ms`` (a cough, a click, a burst of line noise before the floor is known;
  measured onset → last frame both voiced and audible), which emits ``SpeechDiscarded`` instead.
- Reaching ``max_utterance_ms`` emits ``UtteranceEnded(reason="max_length")`` with everything so far.
- With ``pause_ms`` (and ``chunk_ms``), the caller falling silent for ``pause_ms`` in SPEECH emits an
  ``UtteranceGrew`` with ``pause=True`` (the audio since the last chunk, up to now): the words so far
  can be transcribed and answered while the endpointer still waits for ``end_silence_ms``. Speech
  after such a pause emits ``SpeechResumed`` (the prepared answer is not the caller's turn). A pause
  shorter than ``post_roll_ms`` keeps the chunks a prefix of the utterance's pcm.
- ``flush(now_ms)`` at the end of the stream (hang-up) closes an utterance in progress with
  ``reason="stream_end"``.
- ``feed`` in two steps, for many streams sharing one batched Silero inference: ``push(frame, now_ms)``
  hands the frame to the classifier (a window it completes waits in the ``SileroBatch``), the owner runs
  the batch, then ``settle()`` takes the decision and returns the events ``feed`` would have returned.

Times are the caller's clock in milliseconds: ``now_ms`` is the start time of the frame being fed;
an utterance's ``end_ms`` is the end of its last frame. Pure: no I/O, no clock reads (the Silero
weights are read once per process, by ``silero.model``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from edge.media.vad.classifier import VAD_MODELS, FrameClassifier, VadModel, classifier
from edge.media.vad.silero import HYSTERESIS, SileroBatch

FRAME_MS = 20
SUPPORTED_RATES = (8000, 16000)

EndReason = Literal["silence", "max_length", "stream_end"]


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    at_ms: int  # start of the first speech frame of the onset


@dataclass(frozen=True, slots=True)
class UtteranceEnded:
    pcm: bytes  # int16 little-endian, mono, at sample_rate
    start_ms: int
    end_ms: int
    reason: EndReason
    sample_rate: int

    @property
    def samples(self) -> npt.NDArray[np.int16]:
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class UtteranceGrew:
    """The audio of an utterance in progress since its previous ``UtteranceGrew`` (or its start), for
    partial transcripts while the caller speaks. Cut only on a frame heard as speech, so the chunks of
    one utterance, joined, are always a prefix of its ``UtteranceEnded`` pcm (whose trailing silence is
    trimmed), and a caller's pause adds no chunk: nothing new to decode."""

    pcm: bytes  # int16 little-endian, mono, at sample_rate
    index: int  # 0, 1, ... within the utterance
    start_ms: int  # stream offset of this chunk's first sample
    end_ms: int
    sample_rate: int
    pause: bool = False  # the chunk ends in a pause of the caller (``pause_ms`` of silence)


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    """The caller spoke again after a pause that emitted an ``UtteranceGrew(pause=True)``: the
    utterance goes on, and whatever was prepared for the words up to the pause is not the turn."""

    at_ms: int  # start of the frame heard as speech again


@dataclass(frozen=True, slots=True)
class SpeechDiscarded:
    """Speech that started (``SpeechStarted`` was emitted) but was too short to be an utterance."""

    start_ms: int
    end_ms: int


EndpointerEvent = SpeechStarted | UtteranceGrew | SpeechResumed | UtteranceEnded | SpeechDiscarded


@dataclass(frozen=True, slots=True)
class EndpointerConfig:
    sample_rate: int = 8000
    model: VadModel = "silero"
    threshold: float = 0.5  # Silero: speech probability that starts speech (leaves 0.15 lower)
    aggressiveness: int = 2  # webrtcvad mode 0 (least) .. 3 (most aggressive in rejecting non-speech)
    start_ms: int = 60  # consecutive speech needed to declare an onset
    end_silence_ms: int = 700  # trailing non-speech that ends an utterance (the edge: its settings, 500)
    min_utterance_ms: int = 200  # shorter speech (onset → last speech frame) is discarded
    max_utterance_ms: int = 15_000
    pre_roll_ms: int = 200  # audio kept before the onset
    post_roll_ms: int = 200  # trailing non-speech kept after the last speech frame
    end_margin_db: float = 6.0  # in SPEECH, a frame this close to the noise floor is not speech
    end_floor_dbfs: float = -50.0  # ... nor one quieter than this (a line of digital silence)
    unvoiced_tail_ms: int = 200  # loud frames this soon after VAD speech are speech too
    chunk_ms: int = 0  # > 0: an UtteranceGrew at least this often while the caller speaks (partials)
    pause_ms: int = 0  # > 0 (with chunk_ms): an UtteranceGrew(pause=True) after this much silence

    def __post_init__(self) -> None:
        if self.sample_rate not in SUPPORTED_RATES:
            raise ValueError(f"VAD sample rate must be 8000 or 16000, got {self.sample_rate}")
        if self.model not in VAD_MODELS:
            raise ValueError(f"VAD model must be one of {', '.join(VAD_MODELS)}, got {self.model!r}")
        if not HYSTERESIS < self.threshold < 1:
            raise ValueError(f"VAD threshold must be in ({HYSTERESIS}, 1), got {self.threshold}")
        if not 0 <= self.aggressiveness <= 3:
            raise ValueError(f"VAD aggressiveness must be 0..3, got {self.aggressiveness}")
        if self.chunk_ms and self.chunk_ms < FRAME_MS:
            raise ValueError(f"chunk_ms must be 0 (off) or at least {FRAME_MS} ms")
        if self.pause_ms and not FRAME_MS <= self.pause_ms <= min(
            self.post_roll_ms, self.end_silence_ms - FRAME_MS
        ):
            raise ValueError(
                f"pause_ms must be 0 (off) or from {FRAME_MS} ms to the lesser of post_roll_ms and "
                f"end_silence_ms - {FRAME_MS}"
            )
        for name in ("start_ms", "end_silence_ms", "max_utterance_ms"):
            if getattr(self, name) < FRAME_MS:
                raise ValueError(f"{name} must be at least {FRAME_MS} ms")


FLOOR_WINDOW_MS: Final = 640
"""At a speech onset the noise floor goes back to its lowest of this long (see `Endpointer._idle`)."""


def _frames(ms: int) -> int:
    return max(0, -(-ms // FRAME_MS))  # ceiling division


class Endpointer:
    __slots__ = (
        "_chunk_frames",
        "_chunked",
        "_chunks",
        "_floor_energy",
        "_floor_samples",
        "_frame_bytes",
        "_idle_frames",
        "_last_speech_end",
        "_last_vad_speech",
        "_last_voiced_end",
        "_late",
        "_min_energy",
        "_onset_ms",
        "_pause_frames",
        "_paused",
        "_pending",
        "_pre_roll",
        "_silence_frames",
        "_speech_run",
        "_utterance",
        "_utterance_start",
        "_vad",
        "config",
    )

    def __init__(self, config: EndpointerConfig | None = None, *, batch: SileroBatch | None = None) -> None:
        """``batch``: the Silero batch this stream's windows are scored in (see ``push``/``settle``)."""
        self.config = config or EndpointerConfig()
        self._vad: FrameClassifier = classifier(
            self.config.model,
            self.config.sample_rate,
            threshold=self.config.threshold,
            aggressiveness=self.config.aggressiveness,
            batch=batch,
        )
        self._pending: tuple[bytes, int] | None = None  # pushed, not settled: (frame, now_ms)
        self._late: list[EndpointerEvent] = []  # events of a frame settled by the next push
        self._frame_bytes = self.config.sample_rate * FRAME_MS // 1000 * 2
        self._pre_roll: deque[tuple[int, bytes]] = deque(
            maxlen=_frames(self.config.pre_roll_ms) + _frames(self.config.start_ms)
        )
        self._utterance: list[bytes] | None = None  # None: IDLE
        self._speech_run = 0
        self._silence_frames = 0
        self._utterance_start = 0
        self._onset_ms = 0
        self._last_speech_end = 0
        self._last_vad_speech = 0
        self._last_voiced_end = 0  # last frame both voiced (VAD) and audible: the min-length test
        # Energies are mean squares of int16 samples; 0 dBFS is a full-scale square wave (32768²).
        self._min_energy = 32768.0**2 * 10 ** (self.config.end_floor_dbfs / 10)
        self._floor_energy = self._min_energy
        self._floor_samples: deque[float] = deque(maxlen=FLOOR_WINDOW_MS // (4 * FRAME_MS))
        self._idle_frames = 0
        self._chunk_frames = _frames(self.config.chunk_ms) if self.config.chunk_ms else 0
        self._chunked = 0  # frames of the utterance already sent in UtteranceGrew chunks
        self._chunks = 0
        self._pause_frames = (
            _frames(self.config.pause_ms) if self._chunk_frames and self.config.pause_ms else 0
        )
        self._paused = False  # a pause chunk was sent and no speech came since

    @property
    def in_speech(self) -> bool:
        return self._utterance is not None

    def reset(self) -> None:
        """Forget any speech in progress (e.g. after a prompt that did not allow barge-in, or a gap)."""
        self._vad.reset()
        self._pending = None
        self._late = []
        self._pre_roll.clear()
        self._utterance = None
        self._speech_run = 0
        self._silence_frames = 0
        self._paused = False

    def _as_bytes(self, frame: bytes | bytearray | memoryview | npt.NDArray[np.int16]) -> bytes:
        if isinstance(frame, np.ndarray):
            if frame.dtype != np.int16:
                raise TypeError(f"PCM frame must be int16, got {frame.dtype}")
            frame = frame.astype("<i2", copy=False).tobytes()
        else:
            frame = bytes(frame)
        if len(frame) != self._frame_bytes:
            raise ValueError(
                f"VAD frame must be {FRAME_MS} ms ({self._frame_bytes} bytes at "
                f"{self.config.sample_rate} Hz), got {len(frame)} bytes"
            )
        return frame

    def feed(
        self, frame: bytes | bytearray | memoryview | npt.NDArray[np.int16], now_ms: int
    ) -> list[EndpointerEvent]:
        self.push(frame, now_ms)
        return self.settle()

    def push(self, frame: bytes | bytearray | memoryview | npt.NDArray[np.int16], now_ms: int) -> None:
        """The first half of ``feed``: the frame goes to the classifier; ``settle()`` decides on it.
        A frame still unsettled is settled first (its events come with the next ``settle``)."""
        data = self._as_bytes(frame)
        if self._pending is not None:
            self._late += self.settle()
        self._vad.push(data)
        self._pending = (data, now_ms)

    def settle(self) -> list[EndpointerEvent]:
        """The second half of ``feed``: the classifier's decision on the pushed frame, and its events."""
        pending = self._pending
        if pending is None:
            return []
        self._pending = None
        data, now_ms = pending
        is_speech = self._vad.decision()
        events = (
            self._idle(data, now_ms, is_speech)
            if self._utterance is None
            else self._speaking(data, now_ms, is_speech)
        )
        if self._late:
            events, self._late = self._late + events, []
        return events

    def _energy(self, data: bytes) -> float:
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32)
        return float(np.dot(samples, samples)) / samples.size

    def _audible(self, data: bytes) -> bool:
        threshold = self._floor_energy * 10 ** (self.config.end_margin_db / 10)
        return self._energy(data) >= max(self._min_energy, threshold)

    def _idle(self, data: bytes, now_ms: int, is_speech: bool) -> list[EndpointerEvent]:
        self._pre_roll.append((now_ms, data))
        self._speech_run = self._speech_run + 1 if is_speech else 0
        # The line's noise floor, from what the VAD calls noise: every 4th frame is enough for a slow
        # average (~0.4 s time constant), and keeps the idle path (most frames of a call) cheap.
        # The VAD calls the first frames of speech noise (Silero flags a loud neural voice through
        # G.711 up to ~250 ms late), so the average follows them; at the onset the floor goes back to
        # the lowest it was in the last ~0.6 s. Without that, hibari's "I want to talk to a person."
        # lifted it to -25 dBFS, every later frame was "within 6 dB of the noise", and the whole
        # question was discarded as silence (and quieter last syllables, "… number is", were cut).
        self._idle_frames += 1
        if not is_speech and self._idle_frames % 4 == 0:
            self._floor_energy += 0.2 * (self._energy(data) - self._floor_energy)
            self._floor_samples.append(self._floor_energy)
        if self._speech_run < _frames(self.config.start_ms):
            return []
        if self._floor_samples:
            self._floor_energy = min(self._floor_energy, *self._floor_samples)
        keep = _frames(self.config.pre_roll_ms) + self._speech_run
        frames = list(self._pre_roll)[-keep:]
        self._pre_roll.clear()
        self._utterance = [f for _, f in frames]
        self._utterance_start = frames[0][0]
        self._onset_ms = now_ms - (self._speech_run - 1) * FRAME_MS
        self._last_speech_end = self._last_vad_speech = self._last_voiced_end = now_ms + FRAME_MS
        self._silence_frames = 0
        self._speech_run = 0
        self._chunked = self._chunks = 0
        self._paused = False
        return [SpeechStarted(self._onset_ms)]

    def _speaking(self, data: bytes, now_ms: int, is_speech: bool) -> list[EndpointerEvent]:
        utterance = self._utterance
        assert utterance is not None
        utterance.append(data)
        end_ms = now_ms + FRAME_MS
        if is_speech:
            self._last_vad_speech = end_ms
        resumed: list[EndpointerEvent] = []
        if self._audible(data) and end_ms - self._last_vad_speech <= self.config.unvoiced_tail_ms:
            self._silence_frames = 0
            self._last_speech_end = end_ms
            if is_speech:
                self._last_voiced_end = end_ms
            if self._paused and is_speech:
                # Only a voiced frame resumes: the unvoiced tail of the last word is not new speech.
                self._paused = False
                resumed.append(SpeechResumed(now_ms))
        else:
            self._silence_frames += 1
        if self._silence_frames >= _frames(self.config.end_silence_ms):
            return [*resumed, self._finish_on_silence()]
        if end_ms - self._utterance_start >= self.config.max_utterance_ms:
            return [*resumed, self._emit(utterance, end_ms, "max_length")]
        if self._pause_frames and self._silence_frames == self._pause_frames and not self._paused:
            if self._last_voiced_end - self._onset_ms >= self.config.min_utterance_ms:
                self._paused = True
                return [*resumed, self._chunk(utterance, end_ms, pause=True)]
        if self._chunk_frames and self._silence_frames == 0:
            if len(utterance) - self._chunked >= self._chunk_frames:
                return [*resumed, self._chunk(utterance, end_ms)]
        return resumed

    def _chunk(self, utterance: list[bytes], end_ms: int, *, pause: bool = False) -> UtteranceGrew:
        new = utterance[self._chunked :]
        self._chunked = len(utterance)
        self._chunks += 1
        start_ms = end_ms - len(new) * FRAME_MS
        return UtteranceGrew(
            b"".join(new), self._chunks - 1, start_ms, end_ms, self.config.sample_rate, pause=pause
        )

    def _finish_on_silence(self) -> EndpointerEvent:
        utterance = self._utterance
        assert utterance is not None
        trailing_kept = min(self._silence_frames, _frames(self.config.post_roll_ms))
        del utterance[len(utterance) - self._silence_frames + trailing_kept :]
        end_ms = self._last_speech_end + trailing_kept * FRAME_MS
        if self._last_voiced_end - self._onset_ms < self.config.min_utterance_ms:
            self._utterance = None
            return SpeechDiscarded(self._onset_ms, self._last_voiced_end)
        return self._emit(utterance, end_ms, "silence")

    def _emit(self, utterance: list[bytes], end_ms: int, reason: EndReason) -> UtteranceEnded:
        self._utterance = None
        self._silence_frames = 0
        return UtteranceEnded(
            b"".join(utterance), self._utterance_start, end_ms, reason, self.config.sample_rate
        )

    def flush(self, now_ms: int) -> list[EndpointerEvent]:
        """End of stream: close an utterance in progress (``now_ms`` is the end of the last frame fed);
        a frame pushed and not yet settled is settled first."""
        settled = self.settle()
        if self._utterance is None:
            self.reset()
            return settled
        if self._last_voiced_end - self._onset_ms < self.config.min_utterance_ms:
            event: EndpointerEvent = SpeechDiscarded(self._onset_ms, self._last_voiced_end)
            self.reset()
            return [*settled, event]
        event = self._emit(self._utterance, now_ms, "stream_end")
        self.reset()
        return [*settled, event]
