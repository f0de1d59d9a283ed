"""RFC 4733 telephone events (DTMF digits) in RTP: payload format, receiver and sender.

Payload (RFC 4733 §2.3), 4 bytes::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |     event     |E|R| volume    |          duration             |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Events 0-9 are the digits, 10 ``*``, 11 ``#``, 12-15 ``A``-``D``, 16 flash (RFC 4733 §3.2). Volume is
in -dBm0 (0..63). Duration is in RTP timestamp units since the event's start; every packet of one event
carries the same RTP timestamp (the start), so that timestamp identifies the event.

Sender (§2.5.1): the first packet has the marker bit, updates follow every packet time with a growing
duration, and the end packet (E bit) is sent three times for robustness. The receiver (§2.5.2) therefore
sees redundant end packets and possibly lost or reordered ones; it reports each event exactly once,
deduplicating by RTP timestamp.
"""

from __future__ import annotations

import math
import struct
from collections import deque
from dataclasses import dataclass

from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.sender import RtpSender

PAYLOAD_LENGTH = 4
EVENT_NAMES = "0123456789*#ABCD"
EVENT_FLASH = 16
MAX_VOLUME = 63
END_PACKET_REPEATS = 3
_PAYLOAD = struct.Struct("!BBH")


class DtmfParseError(ValueError):
    """A telephone-event payload that is not well formed."""


def event_for_digit(digit: str) -> int:
    index = EVENT_NAMES.find(digit.upper()) if len(digit) == 1 else -1
    if index < 0:
        raise ValueError(f"not a DTMF digit: {digit!r}")
    return index


def digit_for_event(event: int) -> str | None:
    return EVENT_NAMES[event] if 0 <= event < len(EVENT_NAMES) else None


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    event: int
    end: bool = False
    volume: int = 10
    duration: int = 0
    reserved: bool = False  # the R bit: sent as 0, ignored by receivers, kept for round trip

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> TelephoneEvent:
        if len(data) != PAYLOAD_LENGTH:
            raise DtmfParseError(f"telephone-event payload must be {PAYLOAD_LENGTH} bytes, got {len(data)}")
        event, flags, duration = _PAYLOAD.unpack_from(data)
        return cls(event, bool(flags & 0x80), flags & 0x3F, duration, bool(flags & 0x40))

    def __bytes__(self) -> bytes:
        if not 0 <= self.volume <= MAX_VOLUME:
            raise ValueError(f"telephone-event volume {self.volume} is outside 0..{MAX_VOLUME}")
        flags = (0x80 if self.end else 0) | (0x40 if self.reserved else 0) | self.volume
        try:
            return _PAYLOAD.pack(self.event, flags, self.duration)
        except struct.error as exc:
            raise ValueError(f"telephone-event field out of range: {exc}") from None

    @property
    def digit(self) -> str | None:
        return digit_for_event(self.event)


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One received telephone event, reported once."""

    digit: str | None  # None for events other than 0-9 * # A-D
    event: int
    timestamp: int  # RTP timestamp of the event start (its identity)
    duration: int  # timestamp units, as last reported by the sender
    volume: int
    ended: bool  # False when the end packets were lost and the event was closed by timeout/next event


class DtmfReceiver:
    """Turns a stream of telephone-event RTP packets into one ``DtmfDigit`` per event.

    ``receive(packet, now)`` returns the digits completed by that packet; ``poll(now)`` closes an event
    whose end packets never came, ``timeout`` seconds after its last packet (``next_deadline()`` says when).
    """

    __slots__ = ("_current", "_done", "_done_order", "timeout")

    def __init__(self, timeout: float = 1.0, history: int = 32) -> None:
        self.timeout = timeout
        self._current: tuple[int, TelephoneEvent, float] | None = None  # (timestamp, last payload, seen at)
        self._done: set[int] = set()
        self._done_order: deque[int] = deque(maxlen=history)

    def _finish(self, timestamp: int, event: TelephoneEvent, ended: bool) -> DtmfDigit:
        if len(self._done_order) == self._done_order.maxlen:
            self._done.discard(self._done_order[0])
        self._done_order.append(timestamp)
        self._done.add(timestamp)
        self._current = None
        return DtmfDigit(event.digit, event.event, timestamp, event.duration, event.volume, ended)

    def receive(self, packet: RtpPacket, now: float) -> list[DtmfDigit]:
        payload = TelephoneEvent.parse(packet.payload)
        timestamp = packet.timestamp
        if timestamp in self._done:
            return []  # a redundant end packet, or a late update of an event already reported
        digits: list[DtmfDigit] = []
        current = self._current
        if current is not None and current[0] != timestamp:
            digits.append(self._finish(current[0], current[1], ended=False))  # its end packets were lost
        if payload.end:
            digits.append(self._finish(timestamp, payload, ended=True))
        else:
            self._current = (timestamp, payload, now)
        return digits

    def next_deadline(self) -> float | None:
        return None if self._current is None else self._current[2] + self.timeout

    def poll(self, now: float) -> list[DtmfDigit]:
        current = self._current
        if current is None or now < current[2] + self.timeout:
            return []
        return [self._finish(current[0], current[1], ended=False)]


@dataclass(frozen=True, slots=True)
class ScheduledPacket:
    at: float  # when to send it
    packet: RtpPacket


def dtmf_packets(
    sender: RtpSender,
    digit: str,
    now: float,
    *,
    payload_type: int = 101,
    duration_ms: int = 100,
    ptime_ms: int = 20,
    volume: int = 10,
) -> list[ScheduledPacket]:
    """The packets that send ``digit`` as one RFC 4733 event, with their send times.

    A start packet with the marker bit, duration updates every ``ptime_ms``, then the end packet three
    times, one ``ptime_ms`` apart. All share the event's RTP timestamp (the sender's current one); the
    sender's timestamp then moves past the event so that media after it stays continuous.
    """
    event = event_for_digit(digit)
    step = sender.clock_rate * ptime_ms // 1000
    total = sender.clock_rate * duration_ms // 1000
    if step <= 0 or total <= 0:
        raise ValueError(f"DTMF duration {duration_ms} ms and ptime {ptime_ms} ms must be positive")
    if total > 0xFFFF:
        raise ValueError(f"DTMF duration {duration_ms} ms exceeds the 16-bit duration field")
    updates = math.ceil(total / step) - 1  # packets before the end packets
    payloads = [TelephoneEvent(event, False, volume, (i + 1) * step) for i in range(updates)]
    payloads += [TelephoneEvent(event, True, volume, total)] * END_PACKET_REPEATS
    sender.end_talkspurt()
    sender.resume(now)
    timestamp = sender.ts
    scheduled = []
    for index, payload in enumerate(payloads):
        seq = sender.next_sequence()
        packet = RtpPacket(payload_type, seq, timestamp, sender.ssrc, bytes(payload), index == 0)
        at = now + index * ptime_ms / 1000
        sender.sent(packet, at)
        scheduled.append(ScheduledPacket(at, packet))
    sender.advance(total)
    sender.end_talkspurt()  # media after the event starts a new talkspurt
    return scheduled
