"""RTP packet parse/serialise (RFC 3550 §5.1).

Captured packets: the header fields of the G.711, DTMF, CSRC, one-byte-extension and padding-only
packets are those of aiortc's capture files (rtp.bin, rtp_dtmf.bin, rtp_with_csrc.bin,
rtp_with_sdes_mid.bin, rtp_only_padding.bin, as asserted in aiortc's test_rtp.py). Where those
fields were not published (some SSRCs, payload bytes) the bytes here are hand-written.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.media.rtp.packet import RtpPacket, RtpParseError, looks_like_rtp, seq_distance

G711_PACKET = bytes.fromhex("80003d7feaaa63f4" + "1c3b5a4e") + bytes([0xFF, 0x7E, 0xFE, 0x7D] * 40)
DTMF_PACKET = bytes.fromhex("80e55e58efb0f6bca6a144f2" + "050a00a0")
CSRC_PACKET = bytes.fromhex("82003ed200000090" + "4e5f6071" + "abcdef01deadbeef") + b"\xd5" * 160
EXTENSION_PACKET = bytes.fromhex("90ef374c4f1ba1ad" + "8b0f2e41" + "bede0001" + "90300000") + bytes(
    range(0x40, 0x40 + 54)
)
PADDING_ONLY_PACKET = bytes.fromhex("a0786c6ff10b431b" + "3c1d2e0f") + bytes(223) + b"\xe0"

CAPTURES = [G711_PACKET, DTMF_PACKET, CSRC_PACKET, EXTENSION_PACKET, PADDING_ONLY_PACKET]


def test_g711_packet_fields() -> None:
    packet = RtpPacket.parse(G711_PACKET)
    assert packet.payload_type == 0
    assert packet.marker is False
    assert packet.sequence_number == 15743
    assert packet.timestamp == 3937035252
    assert packet.ssrc == 0x1C3B5A4E
    assert packet.csrc == ()
    assert packet.extension_profile is None
    assert len(packet.payload) == 160
    assert bytes(packet) == G711_PACKET
    assert repr(packet) == "RtpPacket(pt=0, seq=15743, ts=3937035252, ssrc=0x1c3b5a4e, marker=0, 160 bytes)"


def test_dtmf_packet_fields() -> None:
    packet = RtpPacket.parse(DTMF_PACKET)
    assert (packet.payload_type, packet.marker, packet.sequence_number) == (101, True, 24152)
    assert packet.timestamp == 4021352124
    assert packet.payload == bytes.fromhex("050a00a0")
    assert bytes(packet) == DTMF_PACKET


def test_csrc_packet_fields() -> None:
    packet = RtpPacket.parse(CSRC_PACKET)
    assert packet.sequence_number == 16082 and packet.timestamp == 144
    assert packet.csrc == (2882400001, 3735928559)
    assert len(packet.payload) == 160
    assert bytes(packet) == CSRC_PACKET


def test_extension_packet_fields() -> None:
    packet = RtpPacket.parse(EXTENSION_PACKET)
    assert (packet.payload_type, packet.marker, packet.sequence_number) == (111, True, 14156)
    assert packet.timestamp == 1327210925
    assert packet.extension_profile == 0xBEDE
    assert packet.extension == b"\x900\x00\x00"
    assert len(packet.payload) == 54
    assert bytes(packet) == EXTENSION_PACKET


def test_padding_only_packet() -> None:
    packet = RtpPacket.parse(PADDING_ONLY_PACKET)
    assert (packet.payload_type, packet.sequence_number, packet.timestamp) == (120, 27759, 4044047131)
    assert packet.payload == b""
    assert len(packet.padding) == 224 and packet.padding[-1] == 224
    assert bytes(packet) == PADDING_ONLY_PACKET


@pytest.mark.parametrize("data", CAPTURES)
def test_every_truncated_prefix_raises_only_rtp_parse_error(data: bytes) -> None:
    for end in range(len(data)):
        prefix = data[:end]
        try:
            packet = RtpPacket.parse(prefix)
        except RtpParseError:
            continue
        # a prefix that still parses (payload cut short) must round-trip too
        assert end >= 12 and bytes(packet) == prefix
    for end in range(12):
        with pytest.raises(RtpParseError, match="RTP packet length is less than 12 bytes"):
            RtpPacket.parse(data[:end])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x40" + G711_PACKET[1:], "RTP packet has invalid version 1"),
        (b"\xc0" + G711_PACKET[1:], "RTP packet has invalid version 3"),
        (CSRC_PACKET[:16], "RTP packet truncated in CSRC list"),
        (EXTENSION_PACKET[:14], "RTP packet truncated in extension header"),
        (EXTENSION_PACKET[:18], "RTP packet truncated in extension data"),
        (PADDING_ONLY_PACKET[:12], "RTP packet padding length is invalid"),
        (PADDING_ONLY_PACKET[:12] + b"\x00", "RTP packet padding length is invalid"),
        (PADDING_ONLY_PACKET[:12] + b"\x02", "RTP packet padding length is invalid"),
    ],
)
def test_exact_error_messages(data: bytes, message: str) -> None:
    with pytest.raises(RtpParseError) as info:
        RtpPacket.parse(data)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_serialise_rejects_out_of_range_fields() -> None:
    with pytest.raises(ValueError, match="RTP field out of range"):
        bytes(RtpPacket(payload_type=0, sequence_number=70000, timestamp=0, ssrc=0))


def test_helpers() -> None:
    assert seq_distance(1, 65535) == 2
    assert seq_distance(65535, 1) == -2
    assert seq_distance(100, 100) == 0
    assert looks_like_rtp(G711_PACKET)
    assert not looks_like_rtp(bytes.fromhex("80c9000730b68407479437af"))  # an RTCP RR
    assert not looks_like_rtp(b"\x80\x00")


@given(st.binary(max_size=80))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        packet = RtpPacket.parse(data)
    except RtpParseError:
        return
    assert bytes(packet) == data


@given(st.binary(min_size=12, max_size=80), st.integers(0, 63))
def test_fuzz_version_2_headers(tail: bytes, flags: int) -> None:
    data = bytes([0x80 | flags]) + tail[1:]
    try:
        packet = RtpPacket.parse(data)
    except RtpParseError:
        return
    assert bytes(packet) == data


@given(
    payload_type=st.integers(0, 127),
    sequence_number=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrc=st.lists(st.integers(0, 0xFFFFFFFF), max_size=15).map(tuple),
    extension=st.none() | st.tuples(st.integers(0, 0xFFFF), st.binary(max_size=12)),
    padding_length=st.integers(0, 255),
)
def test_fuzz_built_packets_round_trip(
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    payload: bytes,
    marker: bool,
    csrc: tuple[int, ...],
    extension: tuple[int, bytes] | None,
    padding_length: int,
) -> None:
    profile, ext = (None, b"") if extension is None else (extension[0], extension[1] * 4)
    padding = bytes(padding_length - 1) + bytes([padding_length]) if padding_length else b""
    packet = RtpPacket(
        payload_type, sequence_number, timestamp, ssrc, payload, marker, csrc, profile, ext, padding
    )
    assert RtpPacket.parse(bytes(packet)) == packet
