"""RTP data packet (RFC 3550 §5.1, header extension §5.3.1, padding §5.1).

Wire format (network byte order)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                           timestamp                           |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |           synchronization source (SSRC) identifier            |
    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
    |            contributing source (CSRC) identifiers (CC x 32)   |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    | X=1: defined by profile (16) |  length in 32-bit words (16)   |
    |                header extension data (length x 32)            |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                          payload ...                          |
    |                               | P=1: padding ... | pad count  |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

The padding is kept byte for byte (its last octet is its own length, counting itself), so
``bytes(RtpPacket.parse(x)) == x`` for every packet that parses.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

RTP_VERSION = 2
RTP_HEADER_LENGTH = 12
EXTENSION_HEADER_LENGTH = 4
MAX_CSRC = 15
HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence number, timestamp, SSRC (§5.1)
PLAIN_V2 = 0x80  # V=2, no padding, no extension, no CSRC: the common header, read and written fast
_HEADER = HEADER
_EXTENSION_HEADER = struct.Struct("!HH")


class RtpParseError(ValueError):
    """A datagram that is not a well-formed RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence_number: int
    timestamp: int
    ssrc: int
    payload: bytes = b""
    marker: bool = False
    csrc: tuple[int, ...] = ()
    extension_profile: int | None = None  # None: no header extension (X=0)
    extension: bytes = b""  # header extension data, a multiple of 4 bytes
    padding: bytes = b""  # raw padding including its count octet; empty: P=0

    @classmethod
    def parse(cls, data: bytes | bytearray | memoryview) -> RtpPacket:
        length = len(data)
        if length < RTP_HEADER_LENGTH:
            raise RtpParseError(f"RTP packet length is less than {RTP_HEADER_LENGTH} bytes")
        first, second, sequence_number, timestamp, ssrc = _HEADER.unpack_from(data)
        version = first >> 6
        if version != RTP_VERSION:
            raise RtpParseError(f"RTP packet has invalid version {version}")
        data = bytes(data)
        if first & 0x3F == 0:  # fast path: no padding, no extension, no CSRC
            return cls(second & 0x7F, sequence_number, timestamp, ssrc, data[12:], second > 0x7F)

        offset = RTP_HEADER_LENGTH
        csrc_count = first & 0x0F
        csrc: tuple[int, ...] = ()
        if csrc_count:
            end = offset + 4 * csrc_count
            if end > length:
                raise RtpParseError("RTP packet truncated in CSRC list")
            csrc = struct.unpack_from(f"!{csrc_count}I", data, offset)
            offset = end

        extension_profile: int | None = None
        extension = b""
        if first & 0x10:
            if offset + EXTENSION_HEADER_LENGTH > length:
                raise RtpParseError("RTP packet truncated in extension header")
            extension_profile, words = _EXTENSION_HEADER.unpack_from(data, offset)
            offset += EXTENSION_HEADER_LENGTH
            end = offset + 4 * words
            if end > length:
                raise RtpParseError("RTP packet truncated in extension data")
            extension = data[offset:end]
            offset = end

        end = length
        padding = b""
        if first & 0x20:
            padding_length = data[-1] if length > offset else 0
            if padding_length == 0 or padding_length > length - offset:
                raise RtpParseError("RTP packet padding length is invalid")
            end = length - padding_length
            padding = data[end:]

        return cls(
            payload_type=second & 0x7F,
            sequence_number=sequence_number,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=data[offset:end],
            marker=bool(second & 0x80),
            csrc=csrc,
            extension_profile=extension_profile,
            extension=extension,
            padding=padding,
        )

    def __bytes__(self) -> bytes:
        first = RTP_VERSION << 6 | len(self.csrc)
        if self.padding:
            first |= 0x20
        if self.extension_profile is not None:
            first |= 0x10
        try:
            header = _HEADER.pack(
                first,
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence_number,
                self.timestamp,
                self.ssrc,
            )
            if first & 0x3F == 0:
                return header + self.payload
            parts = [header]
            if self.csrc:
                parts.append(struct.pack(f"!{len(self.csrc)}I", *self.csrc))
            if self.extension_profile is not None:
                parts.append(_EXTENSION_HEADER.pack(self.extension_profile, len(self.extension) // 4))
                parts.append(self.extension)
        except struct.error as exc:
            raise ValueError(f"RTP field out of range: {exc}") from None
        parts.append(self.payload)
        parts.append(self.padding)
        return b"".join(parts)

    def __repr__(self) -> str:
        return (
            f"RtpPacket(pt={self.payload_type}, seq={self.sequence_number}, ts={self.timestamp}, "
            f"ssrc={self.ssrc:#010x}, marker={int(self.marker)}, {len(self.payload)} bytes)"
        )


class RxAudio:
    """What the jitter buffer and the decoder need of a received audio packet of the common shape.

    The media session's receive fast path reads a ``PLAIN_V2`` header with one ``HEADER`` unpack into
    this slotted object instead of a full ``RtpPacket`` (hundreds of sessions x 50 packets/s).
    """

    __slots__ = ("payload", "sequence_number", "timestamp")

    def __init__(self, sequence_number: int, timestamp: int, payload: bytes) -> None:
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.payload = payload


def seq_distance(a: int, b: int) -> int:
    """Signed distance from 16-bit sequence number ``b`` to ``a`` (``a - b``), in [-32768, 32767]."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def looks_like_rtp(data: bytes | bytearray | memoryview) -> bool:
    """RFC 5761 §4 demultiplexing: version 2 and a payload type outside RTCP's 64..95 range."""
    return len(data) >= RTP_HEADER_LENGTH and data[0] >> 6 == RTP_VERSION and not 64 <= data[1] & 0x7F <= 95
