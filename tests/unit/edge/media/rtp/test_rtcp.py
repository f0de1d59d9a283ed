"""RTCP SR/RR/SDES/BYE and compound packets (RFC 3550 §6).

The SR, RR, SDES and BYE bytes are aiortc's captures (rtcp_sr.bin, rtcp_rr.bin, rtcp_sdes.bin,
rtcp_bye.bin): these packets have no free-form bytes, so they are fully determined by the field values
aiortc's test_rtp.py publishes for them, from which they are written out here.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.media.rtp.rtcp import (
    Bye,
    ReceiverReport,
    ReportBlock,
    RtcpParseError,
    RtcpUnknown,
    SdesChunk,
    SenderReport,
    SourceDescription,
    find_cname,
    looks_like_rtcp,
    ntp_from_unix,
    ntp_middle32,
    ntp_short_to_seconds,
    parse_compound,
    seconds_to_ntp_short,
    serialize_compound,
    unix_from_ntp,
)

SR = bytes.fromhex(
    "81c8000c6d2453eade46475b151a005c66a8dd3e0000010d000034f58ef891ed00000000000000f60000007f0000000000000000"
)
RR = bytes.fromhex("81c9000730b68407479437af0000000000000276000007720000000000000000")
SDES = bytes.fromhex(
    "81ca000c6d2453ea01267b36336634353965612d343166652d343437342d396433332d3937303763396565373964317d00000000"
)
BYE = bytes.fromhex("81cb0001ae528b43")
BYE_WITH_REASON = bytes.fromhex("81cb0003ae528b43" + "0474696d65000000")  # reason "time", padded
PSFB_PLI = bytes.fromhex("81ce00025450a46522fd0bb9")  # PLI: SSRC 1414554213, media SSRC 587284409
RR_PADDED = bytes.fromhex("a0c90002" + "30b68407" + "00000004")  # RR, no blocks, 4 bytes of padding

CAPTURES = [SR, RR, SDES, BYE, BYE_WITH_REASON, PSFB_PLI, RR_PADDED, SR + SDES, RR + SDES + BYE]


def test_sender_report() -> None:
    packet = SenderReport.parse(SR)
    assert packet.ssrc == 1831097322
    assert packet.ntp_timestamp == 16016567581311369308
    assert packet.rtp_timestamp == 1722342718
    assert (packet.packet_count, packet.octet_count) == (269, 13557)
    assert packet.reports == (ReportBlock(2398654957, 0, 0, 246, 127, 0, 0),)
    assert bytes(packet) == SR


def test_receiver_report() -> None:
    packet = ReceiverReport.parse(RR)
    assert packet.ssrc == 817267719
    (block,) = packet.reports
    assert (block.ssrc, block.highest_sequence, block.jitter) == (1200895919, 630, 1906)
    assert bytes(packet) == RR


def test_sdes_cname() -> None:
    packet = SourceDescription.parse(SDES)
    assert packet.chunks[0].ssrc == 1831097322
    assert packet.chunks[0].cname == "{63f459ea-41fe-4474-9d33-9707c9ee79d1}"
    assert bytes(packet) == SDES
    assert bytes(SourceDescription.cname_for(1831097322, "{63f459ea-41fe-4474-9d33-9707c9ee79d1}")) == SDES


def test_bye() -> None:
    assert Bye.parse(BYE) == Bye((2924645187,))
    assert Bye.parse(BYE_WITH_REASON) == Bye((2924645187,), b"time")
    assert bytes(Bye((2924645187,), b"time")) == BYE_WITH_REASON


def test_unknown_type_and_padding_kept_verbatim() -> None:
    (pli,) = parse_compound(PSFB_PLI)
    assert pli == RtcpUnknown(206, 1, bytes.fromhex("5450a46522fd0bb9"))
    (rr,) = parse_compound(RR_PADDED)
    assert rr == ReceiverReport(817267719, padding=b"\x00\x00\x00\x04")


def test_compound() -> None:
    packets = parse_compound(RR + SDES + BYE)
    assert [type(p) for p in packets] == [ReceiverReport, SourceDescription, Bye]
    assert find_cname(packets, 1831097322) == "{63f459ea-41fe-4474-9d33-9707c9ee79d1}"
    assert find_cname(packets, 1) is None
    assert serialize_compound(packets) == RR + SDES + BYE


@pytest.mark.parametrize("data", CAPTURES)
def test_every_truncated_prefix_raises_rtcp_parse_error(data: bytes) -> None:
    assert serialize_compound(parse_compound(data)) == data
    for end in range(len(data)):
        prefix = data[:end]
        if end in _packet_boundaries(data):
            continue  # a prefix that ends on a packet boundary is itself a valid compound packet
        with pytest.raises(RtcpParseError):
            parse_compound(prefix)


def _packet_boundaries(data: bytes) -> set[int]:
    boundaries, offset = set(), 0
    while offset < len(data):
        offset += 4 * (int.from_bytes(data[offset + 2 : offset + 4], "big") + 1)
        boundaries.add(offset)
    return boundaries


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "RTCP compound packet is empty"),
        (RR[:3], "RTCP packet length is less than 4 bytes"),
        (b"\x41" + RR[1:], "RTCP packet has invalid version 1"),
        (RR[:28], "RTCP packet length 32 exceeds the 28 bytes left"),
        (bytes.fromhex("81c80001" + "00000000"), "RTCP SR is truncated in sender info"),
        (bytes.fromhex("81c90000"), "RTCP RR is truncated in sender SSRC"),
        (bytes.fromhex("82c90001" + "00000001"), "RTCP RR is truncated in report blocks"),
        (bytes.fromhex("81ca0000"), "RTCP SDES chunk is truncated"),
        (bytes.fromhex("81ca0001" + "00000001"), "RTCP SDES item is truncated"),
        (bytes.fromhex("81ca0002" + "00000001" + "0105414243"[:8]), "RTCP SDES item is truncated"),
        (bytes.fromhex("81ca0002" + "00000001" + "00010000"), "RTCP SDES chunk padding is invalid"),
        (bytes.fromhex("80ca0001" + "00000000"), "RTCP SDES has trailing bytes after its chunks"),
        (bytes.fromhex("82cb0001" + "00000001"), "RTCP BYE is truncated in SSRC list"),
        (bytes.fromhex("81cb0002" + "00000001" + "09414243"), "RTCP BYE reason is truncated"),
        (bytes.fromhex("81cb0002" + "00000001" + "01410001"), "RTCP BYE reason padding is invalid"),
        (bytes.fromhex("a0c90001" + "00000000"), "RTCP packet padding length is invalid"),
        (bytes.fromhex("a0c90001" + "00000009"), "RTCP packet padding length is invalid"),
    ],
)
def test_exact_error_messages(data: bytes, message: str) -> None:
    with pytest.raises(RtcpParseError) as info:
        parse_compound(data)
    assert str(info.value) == message


def test_single_packet_parse_checks_type_and_length() -> None:
    with pytest.raises(RtcpParseError, match="RTCP packet type 201 is not SenderReport"):
        SenderReport.parse(RR)
    with pytest.raises(RtcpParseError, match="RTCP packet has 8 trailing bytes"):
        ReceiverReport.parse(RR + BYE)


def test_report_block_negative_and_clamped_loss() -> None:
    block = ReportBlock(1, 0, -1, 0, 0)
    assert bytes(block)[5:8] == b"\xff\xff\xff"
    assert ReportBlock.parse(bytes(block)).packets_lost == -1
    assert ReportBlock.parse(bytes(ReportBlock(1, 0, 10**9, 0, 0))).packets_lost == 0x7FFFFF


def test_serialise_limits() -> None:
    with pytest.raises(ValueError, match="RTCP packet cannot carry 32 items"):
        bytes(Bye(tuple(range(32))))
    with pytest.raises(ValueError, match="RTCP packet length 5 is not a multiple of 4 bytes"):
        bytes(RtcpUnknown(204, 0, b"\x00"))


def test_ntp_helpers_rfc3550_example() -> None:
    # RFC 3550 §6.4.1 example: an SR sent at 10 Nov 1995 11:33:25.125 UTC carries LSR 0xb705:2000
    # (46853.125 s); the RR that reflects it arrives at 11:33:36.5, A = 0xb710:8000 (46864.500 s).
    sent = 816003205.125  # 1995-11-10T11:33:25.125Z as Unix time
    ntp = ntp_from_unix(sent)
    assert ntp_middle32(ntp) == 0xB7052000
    assert ntp_middle32(ntp_from_unix(sent + 11.375)) == 0xB7108000
    assert unix_from_ntp(ntp) == pytest.approx(sent, abs=1e-9)
    assert ntp_short_to_seconds(0x00054000) == 5.25
    assert seconds_to_ntp_short(5.25) == 0x00054000


def test_looks_like_rtcp() -> None:
    assert looks_like_rtcp(RR) and looks_like_rtcp(SR)
    assert not looks_like_rtcp(bytes.fromhex("80003d7feaaa63f41c3b5a4e"))


@given(st.binary(max_size=96))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        packets = parse_compound(data)
    except RtcpParseError:
        return
    assert serialize_compound(packets) == data


@given(st.binary(min_size=4, max_size=96), st.integers(0, 63), st.sampled_from([200, 201, 202, 203, 204]))
def test_fuzz_typed_headers(tail: bytes, flags: int, packet_type: int) -> None:
    words = (len(tail) - 4) // 4
    data = bytes([0x80 | (flags & 0x3F), packet_type]) + words.to_bytes(2, "big") + tail[4 : 4 + 4 * words]
    try:
        packets = parse_compound(data)
    except RtcpParseError:
        return
    assert serialize_compound(packets) == data


@given(
    st.lists(
        st.builds(
            SdesChunk,
            st.integers(0, 0xFFFFFFFF),
            st.lists(st.tuples(st.integers(1, 8), st.binary(max_size=20)), max_size=3).map(tuple),
        ),
        max_size=4,
    ),
    st.lists(st.integers(0, 0xFFFFFFFF), max_size=4),
    st.none() | st.binary(max_size=20),
)
def test_fuzz_built_packets_round_trip(
    chunks: list[SdesChunk], sources: list[int], reason: bytes | None
) -> None:
    packets = [SourceDescription(tuple(chunks)), Bye(tuple(sources), reason)]
    assert parse_compound(serialize_compound(packets)) == packets
