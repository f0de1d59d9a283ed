"""Live audio out of a call (``AudioTap``) and into it (``AudioInjector``), 20 ms at a time.

Both sit between a media session's clock tick and a consumer that runs at its own pace (a gRPC stream,
a speech engine), so both are bounded and lossy on the consumer's side, never on the call's:

- ``AudioTap.push(caller, agent)`` is called by the session on every tick with the caller's decoded
  frame and the frame sent to the caller (8 kHz int16, 160 samples each). The tap queues the direction
  it was asked for (``caller``, ``agent``, or ``mixed``: both summed) and, when its reader falls behind
  by ``max_frames``, drops the oldest frame and counts it. The session never waits for a reader.
- ``AudioInjector.write(pcm)`` buffers 8 kHz PCM from a producer; the session takes one frame per tick
  with ``read_frame()`` and mixes it into what the caller hears. An underrun gives None (the caller hears
  the prompt or silence, not a partial frame); a producer running ahead of real time by more than
  ``max_ms`` loses its oldest audio (counted), so a flood cannot grow memory.

This module is the bridge between the sans-IO session and asyncio readers and writers: the session
side (``push``, ``close``, ``read_frame``, ``abort``) never waits; the consumer side (``get``,
``drained``) is awaited on the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import numpy as np

from edge.media.frame import FRAME_BYTES, FRAME_SAMPLES, Int16Array, mix

__all__ = ["FRAME_BYTES", "FRAME_SAMPLES", "AudioInjector", "AudioTap", "TapDirection", "mix"]

TapDirection = Literal["caller", "agent", "mixed"]


class AudioTap:
    """A bounded, drop-oldest queue of one call's live frames (int16 little-endian bytes)."""

    __slots__ = ("_queue", "closed", "direction", "dropped")

    def __init__(self, direction: TapDirection = "caller", max_frames: int = 100) -> None:
        if direction not in ("caller", "agent", "mixed"):
            raise ValueError(f"tap direction must be caller, agent or mixed, got {direction!r}")
        self.direction = direction
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=max_frames)
        self.dropped = 0
        self.closed = False

    def _put(self, item: bytes | None) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(item)

    def push(self, caller: Int16Array, agent: Int16Array) -> None:
        if self.closed:
            return
        if self.direction == "caller":
            frame = caller
        elif self.direction == "agent":
            frame = agent
        else:
            frame = mix(caller, agent)
        self._put(frame.astype("<i2", copy=False).tobytes())

    def close(self) -> None:
        """End of the call: the reader gets None after the frames still queued."""
        if not self.closed:
            self.closed = True
            self._put(None)

    async def get(self) -> bytes | None:
        return await self._queue.get()


class AudioInjector:
    """PCM from outside the call, handed to the session one 20 ms frame per tick."""

    __slots__ = ("_buffer", "_max_bytes", "_wait_bytes", "_waiter", "aborted", "dropped_bytes", "ended")

    def __init__(self, max_ms: int = 2000) -> None:
        self._buffer = bytearray()
        self._max_bytes = max_ms * 8 * 2  # 8 kHz, 2 bytes a sample
        self.dropped_bytes = 0
        self.ended = False
        self.aborted = False
        self._waiter: asyncio.Event | None = None
        self._wait_bytes = 0

    async def drained(self, below_ms: int = 0) -> None:
        """Wait until at most ``below_ms`` of audio is left to play (or the call ended)."""
        while len(self._buffer) > below_ms * 16 and not self.aborted:
            self._waiter = asyncio.Event()
            self._wait_bytes = below_ms * 16
            await self._waiter.wait()

    def abort(self) -> None:
        """The call ended: drop what is buffered and release anyone waiting in ``drained``."""
        self.aborted = self.ended = True
        self._buffer.clear()
        if self._waiter is not None:
            self._waiter.set()

    @property
    def buffered_ms(self) -> int:
        return len(self._buffer) // 16

    def write(self, pcm: Int16Array | bytes) -> None:
        data = pcm.astype("<i2", copy=False).tobytes() if isinstance(pcm, np.ndarray) else bytes(pcm)
        self._buffer += data
        excess = len(self._buffer) - self._max_bytes
        if excess > 0:
            excess += excess % 2
            del self._buffer[:excess]
            self.dropped_bytes += excess

    def end(self) -> None:
        """No more audio: the last partial frame is played, padded with silence."""
        self.ended = True

    @property
    def finished(self) -> bool:
        return self.ended and not self._buffer

    def read_frame(self) -> Int16Array | None:
        buffer = self._buffer
        if len(buffer) < FRAME_BYTES:
            if not (self.ended and buffer):
                return None
            buffer += bytes(FRAME_BYTES - len(buffer))
        frame = np.frombuffer(bytes(buffer[:FRAME_BYTES]), dtype="<i2").astype(np.int16)
        del buffer[:FRAME_BYTES]
        if self._waiter is not None and len(buffer) <= self._wait_bytes:
            self._waiter.set()
        return frame
