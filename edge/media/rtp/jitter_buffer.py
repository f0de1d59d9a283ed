"""Receive jitter buffer for constant-ptime audio (G.711 at 20 ms), keyed by RTP sequence number.

Sequence numbers are 16 bits and wrap; the buffer extends them to unbounded integers relative to the
next frame it will play (RFC 3550 Appendix A.1 uses the same idea for statistics), so reordering across
the 65535 → 0 boundary works like any other.

Playout is on a fixed cadence: the first packet starts the clock, the first frame is due
``playout_delay`` later, and every following one ``ptime`` after the previous. ``pop(now)`` returns the
next due item — the packet (``Frame``) if it arrived, else a ``Lost`` marker for concealment — or
``None`` when nothing is due yet; call it until ``None``. ``next_deadline()`` tells the caller when to
call it again.

Accounting (``stats``): a packet arriving after its frame was played or concealed is *late* and
dropped; one already buffered or recently played is a *duplicate*; one beyond the buffer's capacity
ahead of playout either restarts the stream (a jump larger than ``resync_threshold`` packets — a new
source or a long outage) or is dropped as *overflow*.

The playout delay adapts upwards: it starts at ``playout_delay`` and every late packet adds one
``ptime`` to it (the frame after is played one ptime later, so the caller hears a 20 ms gap once), up
to ``max_delay``. A clean network keeps the short start (the end of each utterance is detected that
much sooner); a jittery one settles at the delay its jitter needs after a few late packets. It never
shrinks within a stream: shrinking means dropping audio, and calls are short.

Known limit: with silence suppression (no packets during pauses) the buffer reports the pause as lost
frames; consumers that negotiate CN/DTX should reset the buffer on a marker bit instead.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol


class Packet(Protocol):
    """What the buffer keeps of a packet: an ``RtpPacket``, or the session's slotted ``RxAudio``."""

    @property
    def sequence_number(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def payload(self) -> bytes: ...


_TIME_EPSILON = 1e-9  # a frame due at t is due when called at t, whatever the float rounding


@dataclass(frozen=True, slots=True)
class Frame:
    sequence: int  # extended sequence number
    packet: Packet


@dataclass(frozen=True, slots=True)
class Lost:
    sequence: int  # extended sequence number of the missing packet


@dataclass(slots=True)
class JitterBufferStats:
    received: int = 0  # packets accepted into the buffer
    played: int = 0
    lost: int = 0  # frames due whose packet had not arrived
    late: int = 0  # packets that arrived after their frame was due
    duplicates: int = 0
    overflow: int = 0  # packets too far ahead, dropped
    resyncs: int = 0  # sequence jumps that restarted playout
    grown: int = 0  # late packets that raised the playout delay


class JitterBuffer:
    __slots__ = (
        "_buffer",
        "_due",
        "_frames",
        "_next_seq",
        "_recent",
        "_recent_order",
        "_start",
        "capacity",
        "max_delay",
        "playout_delay",
        "ptime",
        "resync_threshold",
        "stats",
    )

    def __init__(
        self,
        *,
        ptime: float = 0.020,
        playout_delay: float = 0.060,
        max_delay: float | None = None,
        capacity: int = 50,
        resync_threshold: int = 100,
    ) -> None:
        """``max_delay`` None (or equal to ``playout_delay``): a fixed delay."""
        if capacity < 1 or ptime <= 0 or playout_delay < 0:
            raise ValueError("jitter buffer needs capacity >= 1, ptime > 0 and playout_delay >= 0")
        if max_delay is not None and max_delay < playout_delay:
            raise ValueError("jitter buffer max_delay must be at least playout_delay")
        self.ptime = ptime
        self.playout_delay = playout_delay
        self.max_delay = playout_delay if max_delay is None else max_delay
        self.capacity = capacity
        self.resync_threshold = max(resync_threshold, capacity)
        self.stats = JitterBufferStats()
        self._buffer: dict[int, Packet] = {}
        self._next_seq: int | None = None  # extended sequence number of the next frame to play
        self._due = 0.0  # when that frame is due
        self._start = 0.0  # when the first frame (since the last resync) was due
        self._frames = 0  # frames played since then
        self._recent: set[int] = set()  # recently played extended sequence numbers
        self._recent_order: deque[int] = deque()

    def __len__(self) -> int:
        return len(self._buffer)

    def push(self, packet: Packet, now: float) -> None:
        if self._next_seq is None:
            self._next_seq = packet.sequence_number + (1 << 16)  # headroom so extended numbers stay positive
            self._start = self._due = now + self.playout_delay
        next_seq = self._next_seq
        # next_seq + seq_distance(sequence number, next_seq & 0xFFFF), inlined: every packet of every call
        extended = next_seq + ((packet.sequence_number - next_seq + 0x8000) & 0xFFFF) - 0x8000
        if extended < next_seq:
            if extended in self._recent:
                self.stats.duplicates += 1
            elif next_seq - extended > self.resync_threshold:
                self._resync(packet, extended, now)
            else:
                self.stats.late += 1
                if self.playout_delay + self.ptime <= self.max_delay + _TIME_EPSILON:
                    self.playout_delay += self.ptime
                    self._start += self.ptime
                    self._due += self.ptime
                    self.stats.grown += 1
            return
        if extended in self._buffer:
            self.stats.duplicates += 1
            return
        if extended >= next_seq + self.capacity:
            if extended - next_seq > self.resync_threshold:
                self._resync(packet, extended, now)
            else:
                self.stats.overflow += 1
            return
        self._buffer[extended] = packet
        self.stats.received += 1

    def _resync(self, packet: Packet, extended: int, now: float) -> None:
        self.stats.resyncs += 1
        self._buffer.clear()
        self._recent.clear()
        self._recent_order.clear()
        self._next_seq = extended
        self._start = self._due = max(self._due, now + self.playout_delay)
        self._frames = 0
        self._buffer[extended] = packet
        self.stats.received += 1

    def next_deadline(self) -> float | None:
        return None if self._next_seq is None else self._due

    def pop(self, now: float) -> Frame | Lost | None:
        next_seq = self._next_seq
        if next_seq is None or now + _TIME_EPSILON < self._due:
            return None
        self._next_seq = next_seq + 1
        self._frames += 1
        self._due = self._start + self._frames * self.ptime  # no drift from summing floats
        packet = self._buffer.pop(next_seq, None)
        if packet is None:
            self.stats.lost += 1
            return Lost(next_seq)
        self.stats.played += 1
        self._recent.add(next_seq)
        self._recent_order.append(next_seq)
        if len(self._recent_order) > self.capacity:
            self._recent.discard(self._recent_order.popleft())
        return Frame(next_seq, packet)
