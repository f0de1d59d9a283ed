"""RTCP packets and compound packets (RFC 3550 §6.4-§6.6, NTP timestamps §4).

Every RTCP packet starts with the same 4-byte header; ``length`` counts 32-bit words minus one::

     0                   1                   2                   3
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|  count  |      PT       |             length            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

- SR  (PT=200, count=RC): sender SSRC, NTP timestamp (64), RTP timestamp, packet count, octet count,
  RC report blocks, profile-specific extension (§6.4.1).
- RR  (PT=201, count=RC): sender SSRC, RC report blocks, extension (§6.4.2).
- report block (24 bytes): SSRC, fraction lost (8), cumulative lost (24, signed), extended highest
  sequence number, interarrival jitter, LSR (middle 32 bits of the last SR's NTP time), DLSR (1/65536 s).
- SDES (PT=202, count=SC): SC chunks of SSRC + items (type, length, value), ended by a null item and
  null padding to the next 32-bit boundary (§6.5). CNAME is item type 1.
- BYE (PT=203, count=SC): SC SSRCs, then optionally a length-prefixed reason, zero-padded (§6.6).
- Any other type (APP 204, RTPFB 205, PSFB 206, XR 207, …) is kept as ``RtcpUnknown`` and re-serialised
  unchanged.

A compound packet (§6.1) is RTCP packets back to back; only the last one may carry padding (P bit, the
last octet counting the padding). Padding is kept byte for byte, so ``serialize_compound(
parse_compound(x)) == x`` for every datagram that parses.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

RTCP_VERSION = 2
RTCP_HEADER_LENGTH = 4
REPORT_BLOCK_LENGTH = 24
SENDER_INFO_LENGTH = 24  # sender SSRC + NTP (8) + RTP ts + packet count + octet count
MAX_COUNT = 31

PT_SR = 200
PT_RR = 201
PT_SDES = 202
PT_BYE = 203
PT_APP = 204

SDES_END = 0
SDES_CNAME = 1

NTP_UNIX_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 to 1970-01-01

_T = TypeVar("_T")
_HEADER = struct.Struct("!BBH")
_REPORT_BLOCK = struct.Struct("!IB3sIIII")
_SENDER_INFO = struct.Struct("!IQIII")


class RtcpParseError(ValueError):
    """A datagram that is not a well-formed RTCP (compound) packet."""


# --- NTP timestamps (RFC 3550 §4) ---


def ntp_from_unix(seconds: float) -> int:
    """Unix time → 64-bit NTP timestamp (32.32 fixed point seconds since 1900)."""
    return round((seconds + NTP_UNIX_EPOCH_OFFSET) * (1 << 32)) & 0xFFFF_FFFF_FFFF_FFFF


def unix_from_ntp(ntp: int) -> float:
    """64-bit NTP timestamp → Unix time in seconds (era 0, i.e. before 2036)."""
    return ntp / (1 << 32) - NTP_UNIX_EPOCH_OFFSET


def ntp_middle32(ntp: int) -> int:
    """The middle 32 bits of a 64-bit NTP timestamp (16.16 seconds), as carried in LSR."""
    return (ntp >> 16) & 0xFFFF_FFFF


def ntp_short_to_seconds(value: int) -> float:
    """A 16.16 fixed-point quantity (LSR, DLSR, RTT) → seconds."""
    return value / 65536.0


def seconds_to_ntp_short(seconds: float) -> int:
    return round(seconds * 65536.0) & 0xFFFF_FFFF


# --- packets ---


@dataclass(frozen=True, slots=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int  # 8-bit fixed point: lost/expected x 256 since the last report
    packets_lost: int  # cumulative, signed 24-bit (duplicates can make it negative)
    highest_sequence: int  # extended highest sequence number received
    jitter: int  # interarrival jitter, timestamp units
    lsr: int = 0
    dlsr: int = 0

    @classmethod
    def parse(cls, data: bytes, offset: int = 0) -> ReportBlock:
        if len(data) - offset < REPORT_BLOCK_LENGTH:
            raise RtcpParseError("RTCP report block is truncated")
        ssrc, fraction, lost, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, offset)
        return cls(ssrc, fraction, int.from_bytes(lost, "big", signed=True), highest, jitter, lsr, dlsr)

    def __bytes__(self) -> bytes:
        lost = max(-0x800000, min(0x7FFFFF, self.packets_lost))
        return _REPORT_BLOCK.pack(
            self.ssrc,
            self.fraction_lost,
            lost.to_bytes(3, "big", signed=True),
            self.highest_sequence,
            self.jitter,
            self.lsr,
            self.dlsr,
        )


def _parse_reports(body: bytes, offset: int, count: int, what: str) -> tuple[tuple[ReportBlock, ...], int]:
    end = offset + count * REPORT_BLOCK_LENGTH
    if end > len(body):
        raise RtcpParseError(f"RTCP {what} is truncated in report blocks")
    reports = tuple(ReportBlock.parse(body, offset + i * REPORT_BLOCK_LENGTH) for i in range(count))
    return reports, end


@dataclass(frozen=True, slots=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""  # profile-specific extension
    padding: bytes = b""

    packet_type = PT_SR

    @classmethod
    def _from_body(cls, count: int, body: bytes, padding: bytes) -> SenderReport:
        if len(body) < SENDER_INFO_LENGTH:
            raise RtcpParseError("RTCP SR is truncated in sender info")
        ssrc, ntp, rtp_ts, packets, octets = _SENDER_INFO.unpack_from(body)
        reports, end = _parse_reports(body, SENDER_INFO_LENGTH, count, "SR")
        return cls(ssrc, ntp, rtp_ts, packets, octets, reports, body[end:], padding)

    def _count_and_body(self) -> tuple[int, bytes]:
        info = _SENDER_INFO.pack(
            self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count
        )
        return len(self.reports), info + b"".join(bytes(r) for r in self.reports) + self.extension

    @classmethod
    def parse(cls, data: bytes) -> SenderReport:
        return _parse_single(data, cls)

    def __bytes__(self) -> bytes:
        return _serialize(self)


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()
    extension: bytes = b""
    padding: bytes = b""

    packet_type = PT_RR

    @classmethod
    def _from_body(cls, count: int, body: bytes, padding: bytes) -> ReceiverReport:
        if len(body) < 4:
            raise RtcpParseError("RTCP RR is truncated in sender SSRC")
        reports, end = _parse_reports(body, 4, count, "RR")
        return cls(int.from_bytes(body[:4], "big"), reports, body[end:], padding)

    def _count_and_body(self) -> tuple[int, bytes]:
        blocks = b"".join(bytes(r) for r in self.reports)
        return len(self.reports), self.ssrc.to_bytes(4, "big") + blocks + self.extension

    @classmethod
    def parse(cls, data: bytes) -> ReceiverReport:
        return _parse_single(data, cls)

    def __bytes__(self) -> bytes:
        return _serialize(self)


@dataclass(frozen=True, slots=True)
class SdesChunk:
    ssrc: int
    items: tuple[tuple[int, bytes], ...] = ()  # (item type, value), END excluded

    @property
    def cname(self) -> str | None:
        for item_type, value in self.items:
            if item_type == SDES_CNAME:
                return value.decode("utf-8", errors="replace")
        return None

    def __bytes__(self) -> bytes:
        parts = [self.ssrc.to_bytes(4, "big")]
        for item_type, value in self.items:
            parts.append(bytes((item_type, len(value))))
            parts.append(value)
        raw = b"".join(parts)
        return raw + b"\x00" * (4 - len(raw) % 4)  # the END item plus null padding to 32 bits


@dataclass(frozen=True, slots=True)
class SourceDescription:
    chunks: tuple[SdesChunk, ...] = ()
    padding: bytes = b""

    packet_type = PT_SDES

    @classmethod
    def _from_body(cls, count: int, body: bytes, padding: bytes) -> SourceDescription:
        chunks = []
        offset = 0
        for _ in range(count):
            if offset + 4 > len(body):
                raise RtcpParseError("RTCP SDES chunk is truncated")
            ssrc = int.from_bytes(body[offset : offset + 4], "big")
            offset += 4
            items = []
            while True:
                if offset >= len(body):
                    raise RtcpParseError("RTCP SDES item is truncated")
                item_type = body[offset]
                if item_type == SDES_END:
                    end = (offset + 4) & ~3  # the null octets up to the next 32-bit boundary
                    if end > len(body) or any(body[offset:end]):
                        raise RtcpParseError("RTCP SDES chunk padding is invalid")
                    offset = end
                    break
                if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                    raise RtcpParseError("RTCP SDES item is truncated")
                length = body[offset + 1]
                items.append((item_type, body[offset + 2 : offset + 2 + length]))
                offset += 2 + length
            chunks.append(SdesChunk(ssrc, tuple(items)))
        if offset != len(body):
            raise RtcpParseError("RTCP SDES has trailing bytes after its chunks")
        return cls(tuple(chunks), padding)

    def _count_and_body(self) -> tuple[int, bytes]:
        return len(self.chunks), b"".join(bytes(c) for c in self.chunks)

    @classmethod
    def cname_for(cls, ssrc: int, cname: str) -> SourceDescription:
        return cls((SdesChunk(ssrc, ((SDES_CNAME, cname.encode()),)),))

    @classmethod
    def parse(cls, data: bytes) -> SourceDescription:
        return _parse_single(data, cls)

    def __bytes__(self) -> bytes:
        return _serialize(self)


@dataclass(frozen=True, slots=True)
class Bye:
    sources: tuple[int, ...] = ()
    reason: bytes | None = None
    padding: bytes = b""

    packet_type = PT_BYE

    @classmethod
    def _from_body(cls, count: int, body: bytes, padding: bytes) -> Bye:
        end = 4 * count
        if end > len(body):
            raise RtcpParseError("RTCP BYE is truncated in SSRC list")
        sources = struct.unpack_from(f"!{count}I", body)
        reason = None
        if end < len(body):
            length = body[end]
            if end + 1 + length > len(body):
                raise RtcpParseError("RTCP BYE reason is truncated")
            reason = body[end + 1 : end + 1 + length]
            padded_end = end + 1 + length + (-(1 + length) % 4)
            if padded_end != len(body) or any(body[end + 1 + length :]):
                raise RtcpParseError("RTCP BYE reason padding is invalid")
        return cls(sources, reason, padding)

    def _count_and_body(self) -> tuple[int, bytes]:
        body = struct.pack(f"!{len(self.sources)}I", *self.sources)
        if self.reason is not None:
            raw = bytes((len(self.reason),)) + self.reason
            body += raw + b"\x00" * (-len(raw) % 4)
        return len(self.sources), body

    @classmethod
    def parse(cls, data: bytes) -> Bye:
        return _parse_single(data, cls)

    def __bytes__(self) -> bytes:
        return _serialize(self)


@dataclass(frozen=True, slots=True)
class RtcpUnknown:
    """An RTCP packet of a type this layer does not interpret (APP, feedback, XR …), kept verbatim."""

    packet_type: int
    count: int
    body: bytes
    padding: bytes = b""

    def _count_and_body(self) -> tuple[int, bytes]:
        return self.count, self.body

    def __bytes__(self) -> bytes:
        return _serialize(self)


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Bye | RtcpUnknown
_TYPES: dict[int, type[SenderReport | ReceiverReport | SourceDescription | Bye]] = {
    PT_SR: SenderReport,
    PT_RR: ReceiverReport,
    PT_SDES: SourceDescription,
    PT_BYE: Bye,
}


def _serialize(packet: RtcpPacket) -> bytes:
    count, body = packet._count_and_body()
    if count > MAX_COUNT:
        raise ValueError(f"RTCP packet cannot carry {count} items (at most {MAX_COUNT})")
    total = RTCP_HEADER_LENGTH + len(body) + len(packet.padding)
    if total % 4:
        raise ValueError(f"RTCP packet length {total} is not a multiple of 4 bytes")
    first = RTCP_VERSION << 6 | (0x20 if packet.padding else 0) | count
    return _HEADER.pack(first, packet.packet_type, total // 4 - 1) + body + packet.padding


def _parse_one(data: bytes, offset: int) -> tuple[RtcpPacket, int]:
    if len(data) - offset < RTCP_HEADER_LENGTH:
        raise RtcpParseError(f"RTCP packet length is less than {RTCP_HEADER_LENGTH} bytes")
    first, packet_type, words = _HEADER.unpack_from(data, offset)
    version = first >> 6
    if version != RTCP_VERSION:
        raise RtcpParseError(f"RTCP packet has invalid version {version}")
    end = offset + 4 * (words + 1)
    if end > len(data):
        raise RtcpParseError(
            f"RTCP packet length {4 * (words + 1)} exceeds the {len(data) - offset} bytes left"
        )
    body = data[offset + RTCP_HEADER_LENGTH : end]
    padding = b""
    if first & 0x20:
        padding_length = body[-1] if body else 0
        if padding_length == 0 or padding_length > len(body):
            raise RtcpParseError("RTCP packet padding length is invalid")
        padding = body[-padding_length:]
        body = body[:-padding_length]
    count = first & 0x1F
    cls = _TYPES.get(packet_type)
    if cls is None:
        return RtcpUnknown(packet_type, count, body, padding), end
    return cls._from_body(count, body, padding), end


def _parse_single(data: bytes, cls: type[_T]) -> _T:
    data = bytes(data)
    packet, end = _parse_one(data, 0)
    if end != len(data):
        raise RtcpParseError(f"RTCP packet has {len(data) - end} trailing bytes")
    if not isinstance(packet, cls):
        raise RtcpParseError(f"RTCP packet type {packet.packet_type} is not {cls.__name__}")
    return packet


def parse_compound(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """Parse a compound RTCP datagram into its packets, in order."""
    data = bytes(data)
    if not data:
        raise RtcpParseError("RTCP compound packet is empty")
    packets: list[RtcpPacket] = []
    offset = 0
    while offset < len(data):
        packet, offset = _parse_one(data, offset)
        packets.append(packet)
    return packets


def serialize_compound(packets: Iterable[RtcpPacket]) -> bytes:
    return b"".join(bytes(p) for p in packets)


def looks_like_rtcp(data: bytes | bytearray | memoryview) -> bool:
    """RFC 5761 §4 demultiplexing: version 2 and a packet type in 192..223 (RTCP's range)."""
    return len(data) >= RTCP_HEADER_LENGTH and data[0] >> 6 == RTCP_VERSION and 192 <= data[1] <= 223


def find_cname(packets: Sequence[RtcpPacket], ssrc: int) -> str | None:
    for packet in packets:
        if isinstance(packet, SourceDescription):
            for chunk in packet.chunks:
                if chunk.ssrc == ssrc and chunk.cname is not None:
                    return chunk.cname
    return None
