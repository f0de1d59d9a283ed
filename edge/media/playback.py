"""Prompt playback: int16 PCM at 8 kHz → 20 ms G.711 RTP packets, with barge-in and a prompt cache.

- ``frames(pcm)`` cuts PCM into 160-sample frames (the last one padded with silence).
- ``PromptPlayer`` plays a queue of prompts through one session's ``RtpSender``, so sequence numbers
  and timestamps stay continuous across prompts; each prompt after an idle gap starts a talkspurt
  (marker bit, timestamp moved on by the gap). The caller's 20 ms timer calls ``next_packet(now)``.
  ``stop()`` (hang-up, ``StopPlayback``) and ``barge_in()`` (caller speech, only for prompts that allow
  it) end playback and report how much of the prompt was played, in ms.
- ``load_wav`` reads WAV of any rate, sample width (8/16/24/32-bit PCM) and channel count with the
  standard ``wave`` module, downmixes to mono and resamples to 8 kHz.
- ``PromptCache`` keeps decoded prompts, least recently used first out, bounded by total bytes, keyed
  by path and modification time so an edited file is decoded again.

Sans-IO except ``load_wav``/``PromptCache``, which read files (prompts are local files or bytes).
"""

from __future__ import annotations

import io
import os
import wave
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge.media.codecs.g711 import PCMU, G711Codec
from edge.media.codecs.resample import TELEPHONY_RATE, resample
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.sender import RtpSender
from schemas.playback_ids import in_family

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_MS = 20
Int16Array = npt.NDArray[np.int16]


class PromptError(ValueError):
    """A prompt that cannot be decoded (not a PCM WAV, unsupported sample width, empty …)."""


def frames(pcm: Int16Array, frame_samples: int = FRAME_SAMPLES) -> Iterator[Int16Array]:
    """Successive ``frame_samples``-long frames of ``pcm``; the last is zero-padded."""
    for start in range(0, pcm.size, frame_samples):
        frame = pcm[start : start + frame_samples]
        if frame.size < frame_samples:
            frame = np.concatenate([frame, np.zeros(frame_samples - frame.size, dtype=np.int16)])
        yield frame


# --- WAV decoding ---


def _to_int16(raw: bytes, width: int) -> Int16Array:
    if width == 1:  # 8-bit WAV is unsigned
        return ((np.frombuffer(raw, dtype=np.uint8).astype(np.int16) - 128) << 8).astype(np.int16)
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.int16)
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        return (b[:, 2].astype(np.int8).astype(np.int16) << 8 | b[:, 1].astype(np.int16)).astype(np.int16)
    if width == 4:
        return (np.frombuffer(raw, dtype="<i4") >> 16).astype(np.int16)
    raise PromptError(f"unsupported WAV sample width: {width} bytes")


def decode_wav(data: bytes | Path | str) -> tuple[Int16Array, int]:
    """Decode a PCM WAV (bytes or a path) to mono int16 at its own rate."""
    source: io.BytesIO | str = io.BytesIO(data) if isinstance(data, bytes) else str(data)
    try:
        with wave.open(source, "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise PromptError(f"not a PCM WAV file: {exc}") from None
    samples = _to_int16(raw, width)
    if channels > 1:
        samples = samples[: samples.size - samples.size % channels].reshape(-1, channels)
        samples = samples.astype(np.int32).mean(axis=1).round().astype(np.int16)
    return samples, rate


def load_wav(data: bytes | Path | str) -> Int16Array:
    """Any PCM WAV → mono int16 at 8 kHz."""
    samples, rate = decode_wav(data)
    return resample(samples, rate, TELEPHONY_RATE) if rate != TELEPHONY_RATE else samples


class PromptCache:
    """Decoded prompts by (path, mtime), LRU, bounded by the total bytes of PCM held."""

    __slots__ = ("_entries", "_size", "hits", "max_bytes", "misses")

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, int], Int16Array] = OrderedDict()
        self._size = 0
        self.hits = 0
        self.misses = 0

    @property
    def size_bytes(self) -> int:
        return self._size

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, path: str | Path) -> Int16Array:
        resolved = os.fspath(Path(path).resolve())
        key = (resolved, os.stat(resolved).st_mtime_ns)
        pcm = self._entries.get(key)
        if pcm is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return pcm
        self.misses += 1
        pcm = load_wav(resolved)
        pcm.flags.writeable = False  # shared between calls
        if pcm.nbytes <= self.max_bytes:
            for stale in [k for k in self._entries if k[0] == resolved]:  # older versions of the file
                self._size -= self._entries.pop(stale).nbytes
            self._entries[key] = pcm
            self._size += pcm.nbytes
            while self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= evicted.nbytes
        return pcm


# --- the player ---


@dataclass(frozen=True, slots=True)
class PromptFinished:
    prompt_id: str | None
    played_ms: int
    interrupted: bool  # stopped or barged in before its end


@dataclass(slots=True)
class _Prompt:
    prompt_id: str | None
    pcm: Int16Array
    barge_in: bool
    position: int = 0  # samples sent


class PromptPlayer:
    """Plays queued prompts as RTP through one session's ``RtpSender``.

    ``playing`` (a prompt is queued) and ``current_id`` (the id of the prompt playing now; None when
    idle or the prompt has no id) are plain attributes, kept up to date whenever the head of the queue
    changes: the media session reads both every tick of every call.
    """

    __slots__ = ("_finished", "_queue", "codec", "current_id", "playing", "sender")

    def __init__(self, sender: RtpSender, codec: G711Codec = PCMU) -> None:
        self.sender = sender
        self.codec = codec
        self._queue: deque[_Prompt] = deque()
        self._finished: list[PromptFinished] = []
        self.playing = False
        self.current_id: str | None = None

    def _head_changed(self) -> None:
        queue = self._queue
        self.playing = bool(queue)
        self.current_id = queue[0].prompt_id if queue else None

    def cancel(self, prompt_id: str) -> list[str]:
        """Drop the queued prompts that have not started yet and are ``prompt_id`` or one of its pieces
        (`schemas.playback_ids`); their ids, in queue order (none queued behind the current one: [])."""
        dropped = [p.prompt_id for p in list(self._queue)[1:] if in_family(p.prompt_id, prompt_id)]
        if dropped:
            head = self._queue.popleft()
            self._queue = deque(p for p in self._queue if not in_family(p.prompt_id, prompt_id))
            self._queue.appendleft(head)
        return [d for d in dropped if d is not None]

    @property
    def played_ms(self) -> int:
        """How much of the current prompt has been sent."""
        return self._queue[0].position * 1000 // TELEPHONY_RATE if self._queue else 0

    def play(self, pcm: Int16Array, *, prompt_id: str | None = None, barge_in: bool = True) -> None:
        """Queue a prompt (8 kHz mono int16) after those already queued."""
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise PromptError(f"prompt PCM must be mono int16, got {pcm.dtype} with {pcm.ndim} dimension(s)")
        if pcm.size:
            self._queue.append(_Prompt(prompt_id, pcm, barge_in))
            if len(self._queue) == 1:
                self._head_changed()

    def next_frame(self) -> Int16Array | None:
        """The next 20 ms of PCM, advancing playback (for a caller that mixes and encodes itself)."""
        if not self._queue:
            return None
        prompt = self._queue[0]
        frame = prompt.pcm[prompt.position : prompt.position + FRAME_SAMPLES]
        if frame.size < FRAME_SAMPLES:
            frame = np.concatenate([frame, np.zeros(FRAME_SAMPLES - frame.size, dtype=np.int16)])
        prompt.position = min(prompt.position + FRAME_SAMPLES, prompt.pcm.size)
        if prompt.position >= prompt.pcm.size:
            self._queue.popleft()
            self._head_changed()
            self._finished.append(PromptFinished(prompt.prompt_id, self._ms(prompt), interrupted=False))
        return frame

    def next_packet(self, now: float) -> RtpPacket | None:
        """The next 20 ms packet to send at ``now``, or None when nothing is playing."""
        frame = self.next_frame()
        if frame is None:
            return None
        packet = self.sender.next_packet(self.codec.encode(frame), now)
        if not self._queue:
            self.sender.end_talkspurt()  # the next prompt starts a new talkspurt
        return packet

    @staticmethod
    def _ms(prompt: _Prompt) -> int:
        return prompt.position * 1000 // TELEPHONY_RATE

    def stop(self) -> PromptFinished | None:
        """Stop now (StopPlayback, hang-up): drop the queue; report the interrupted prompt."""
        if not self._queue:
            return None
        current = self._queue[0]
        self._queue.clear()
        self._head_changed()
        self.sender.end_talkspurt()
        report = PromptFinished(current.prompt_id, self._ms(current), interrupted=True)
        self._finished.append(report)
        return report

    def barge_in(self) -> PromptFinished | None:
        """Caller speech: stop if the current prompt allows barge-in, else keep playing (None)."""
        if not self._queue or not self._queue[0].barge_in:
            return None
        return self.stop()

    def pop_finished(self) -> list[PromptFinished]:
        """Prompts that ended (played out or interrupted) since the last call, in order."""
        finished, self._finished = self._finished, []
        return finished
