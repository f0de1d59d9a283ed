"""Outgoing RTP stream state (RFC 3550 §5.1, §6.4.1): SSRC, sequence number, timestamp, talkspurts.

One ``RtpSender`` per media session keeps sequence numbers and timestamps continuous across every
prompt, DTMF event and silence gap it sends:

- the sequence number increases by one per packet (mod 2^16), from a random start;
- the timestamp advances by the samples each packet carries (mod 2^32), from a random start, and across
  an idle gap by the wall-clock time that passed (``now``), rounded to whole frames, so the receiver's
  playout keeps its pace;
- the first packet of a talkspurt carries the marker bit (RFC 3551 §4.1).

It also counts packets and payload octets for the sender report.

Two ways to send media: ``next_packet`` builds an ``RtpPacket`` (prompts, tests), ``pack_media`` the
wire bytes directly (the media session's hot path: one ``struct`` pack of a plain V=2 header plus the
payload, no ``RtpPacket``). Both advance the same counters the same way, and only this class writes
them.
"""

from __future__ import annotations

import secrets

from edge.media.rtp.packet import HEADER, PLAIN_V2, RtpPacket

SEQ_MOD = 1 << 16
TS_MOD = 1 << 32


class RtpSender:
    __slots__ = (
        "_in_talkspurt",
        "_last_sent_at",
        "_last_ts",
        "clock_rate",
        "octet_count",
        "packet_count",
        "payload_type",
        "samples_per_frame",
        "seq",
        "ssrc",
        "ts",
    )

    def __init__(
        self,
        payload_type: int,
        *,
        clock_rate: int = 8000,
        samples_per_frame: int = 160,
        ssrc: int | None = None,
        initial_seq: int | None = None,
        initial_ts: int | None = None,
    ) -> None:
        self.payload_type = payload_type
        self.clock_rate = clock_rate
        self.samples_per_frame = samples_per_frame
        self.ssrc = secrets.randbits(32) if ssrc is None else ssrc
        self.seq = secrets.randbits(16) if initial_seq is None else initial_seq  # next to send
        self.ts = secrets.randbits(32) if initial_ts is None else initial_ts  # next frame's timestamp
        self.packet_count = 0
        self.octet_count = 0
        self._in_talkspurt = False
        self._last_sent_at: float | None = None
        self._last_ts = self.ts

    def next_sequence(self) -> int:
        seq = self.seq
        self.seq = (seq + 1) % SEQ_MOD
        return seq

    def advance(self, samples: int) -> None:
        """Move the timestamp on by ``samples`` without sending (time covered by other packets)."""
        self.ts = (self.ts + samples) % TS_MOD

    def end_talkspurt(self) -> None:
        """The next packet starts a new talkspurt and carries the marker bit."""
        self._in_talkspurt = False

    def resume(self, now: float | None) -> None:
        """Before a talkspurt after idle time: move the timestamp on by the whole frames that passed."""
        if now is None or self._last_sent_at is None:
            return
        elapsed = round((now - self._last_sent_at) * self.clock_rate)
        frames = elapsed // self.samples_per_frame
        wall_ts = (self._last_ts + frames * self.samples_per_frame) % TS_MOD
        # only move forward: (wall_ts - ts) mod 2^32 in the lower half means wall_ts is ahead
        if 0 < (wall_ts - self.ts) % TS_MOD < TS_MOD // 2:
            self.ts = wall_ts

    def next_packet(self, payload: bytes, now: float | None = None, samples: int | None = None) -> RtpPacket:
        """The next media packet carrying ``payload`` (``samples`` long, default one frame)."""
        marker = not self._in_talkspurt
        if marker:
            self.resume(now)
            self._in_talkspurt = True
        packet = RtpPacket(self.payload_type, self.next_sequence(), self.ts, self.ssrc, payload, marker)
        self.sent(packet, now)
        self.advance(self.samples_per_frame if samples is None else samples)
        return packet

    def pack_media(self, payload: bytes, now: float) -> bytes:
        """``bytes(next_packet(payload, now))`` for one frame, without building the ``RtpPacket``."""
        second = self.payload_type
        if not self._in_talkspurt:  # the first packet of a talkspurt carries the marker (RFC 3551 §4.1)
            self.resume(now)
            self._in_talkspurt = True
            second |= 0x80
        seq, ts = self.seq, self.ts
        self.seq = (seq + 1) & 0xFFFF
        self.ts = (ts + self.samples_per_frame) & 0xFFFFFFFF
        self.packet_count = (self.packet_count + 1) & 0xFFFFFFFF
        self.octet_count = (self.octet_count + len(payload)) & 0xFFFFFFFF
        self._last_ts = ts
        self._last_sent_at = now
        return HEADER.pack(PLAIN_V2, second, seq, ts, self.ssrc) + payload

    def rtp_timestamp_at(self, now: float) -> int:
        """The RTP timestamp that corresponds to ``now`` (a sender report's, RFC 3550 §6.4.1): the last
        packet's, moved on by the time since it was sent."""
        last = self._last_sent_at
        elapsed = 0.0 if last is None else now - last
        return (self._last_ts + round(elapsed * self.clock_rate)) % TS_MOD

    def sent(self, packet: RtpPacket, now: float | None) -> None:
        """Account for a packet of this stream (media or event) built by the caller."""
        self.packet_count = (self.packet_count + 1) % TS_MOD
        self.octet_count = (self.octet_count + len(packet.payload)) % TS_MOD
        self._last_ts = packet.timestamp
        if now is not None:
            self._last_sent_at = now
