"""The RTCP compound a session sends and the figures of MediaQualityReported, on injected clocks."""

from __future__ import annotations

from edge.media.quality.report import quality_fields, rtcp_compound
from edge.media.quality.stats import ReceiverStats
from edge.media.rtp.rtcp import (
    Bye,
    ReceiverReport,
    SenderReport,
    SourceDescription,
    parse_compound,
    unix_from_ntp,
)
from edge.media.rtp.sender import RtpSender


def test_before_sending_media_the_report_is_an_rr_and_sdes() -> None:
    sender = RtpSender(0, ssrc=11)
    rr, sdes = parse_compound(rtcp_compound(sender, None, "edge-1@sentiric", now=5.0, wall=1.7e9))
    assert isinstance(rr, ReceiverReport) and rr.ssrc == 11 and rr.reports == ()
    assert isinstance(sdes, SourceDescription)


def test_after_media_an_sr_on_both_clocks_with_a_block_and_the_bye() -> None:
    sender = RtpSender(0, ssrc=11, initial_ts=1000)
    for i in range(3):
        sender.pack_media(b"\xff" * 160, 10.0 + i * 0.02)
    stats = ReceiverStats(77, 500, probation=0)
    for i in range(10):
        stats.on_packet(500 + i, 160 * i, 10.0 + i * 0.02)
    sr, _, bye = parse_compound(rtcp_compound(sender, stats, "c", now=10.1, wall=1.7e9 + 0.5, bye=True))
    assert isinstance(sr, SenderReport) and isinstance(bye, Bye) and bye.sources == (11,)
    assert (sr.packet_count, sr.octet_count) == (3, 480)
    assert sr.rtp_timestamp == 1000 + 320 + round(0.06 * 8000)  # the last packet's, moved on by 60 ms
    assert abs(unix_from_ntp(sr.ntp_timestamp) - (1.7e9 + 0.5)) < 1e-6
    (block,) = sr.reports
    assert block.ssrc == 77 and block.highest_sequence == 509 and block.packets_lost == 0


def test_quality_figures_with_and_without_media() -> None:
    assert quality_fields(None, None, 0.02) == {
        "packets_received": 0,
        "packets_lost": 0,
        "loss_fraction": 0.0,
        "jitter_ms": 0.0,
        "rtt_ms": None,
        "r_factor": 0.0,
        "mos": 0.0,
    }
    stats = ReceiverStats(77, 0, probation=0)
    for i in (0, 1, 2, 4, 5, 6, 7, 8, 9):  # one lost of ten
        stats.on_packet(i, 160 * i, i * 0.02)
    figures = quality_fields(stats, 0.1, 0.02)
    assert figures["packets_received"] == 9 and figures["packets_lost"] == 1
    assert figures["loss_fraction"] == 0.1 and figures["rtt_ms"] == 100.0
    assert 1.0 <= figures["mos"] < 4.5 and figures["r_factor"] > 0
    lossless = ReceiverStats(78, 0, probation=0)
    for i in range(10):
        lossless.on_packet(i, 160 * i, i * 0.02)
    assert quality_fields(lossless, 0.1, 0.02)["mos"] > figures["mos"]
