"""RFC 3550 A.1/A.3/A.8 receiver statistics and §6.4.1 round-trip time."""

from __future__ import annotations

import pytest

from edge.media.quality.stats import ReceiverStats, round_trip_time
from edge.media.rtp.rtcp import ReportBlock, ntp_from_unix


def feed(stats: ReceiverStats, seqs: list[int], arrival_jitter: list[float] | None = None) -> None:
    for i, seq in enumerate(seqs):
        extra = arrival_jitter[i % len(arrival_jitter)] if arrival_jitter else 0.0
        stats.on_packet(seq % 65536, (seq * 160) % 2**32, 100.0 + seq * 0.02 + extra)


def test_probation_then_counting() -> None:
    stats = ReceiverStats(ssrc=9, first_seq=1000)
    assert stats.update_seq(1000) is False  # first packet: still on probation (MIN_SEQUENTIAL = 2)
    assert stats.update_seq(1001) is True  # second in sequence: valid, base_seq = 1001
    assert (stats.base_seq, stats.received, stats.expected) == (1001, 1, 1)


def test_loss_and_fraction_per_interval() -> None:
    stats = ReceiverStats(ssrc=9, first_seq=0, probation=0)
    feed(stats, [s for s in range(100) if s % 10 != 5])  # 10 lost of 100
    block = stats.report_block(now=0.0)
    assert (stats.expected, stats.received, block.packets_lost) == (100, 90, 10)
    assert block.fraction_lost == (10 << 8) // 100  # 25 ≈ 10 %
    assert block.highest_sequence == 99
    feed(stats, list(range(100, 200)))  # next interval: no loss
    assert stats.report_block(now=5.0).fraction_lost == 0
    assert stats.snapshot().cumulative_lost == 10
    assert stats.snapshot().fraction_lost == pytest.approx(10 / 200)


def test_extended_sequence_across_wraparound() -> None:
    stats = ReceiverStats(ssrc=1, first_seq=65530, probation=0)
    feed(stats, list(range(65530, 65546)))
    assert stats.cycles == 65536
    assert stats.extended_highest_seq == 65545
    assert stats.cumulative_lost == 0


def test_duplicates_make_loss_negative_and_misorder_is_not_a_jump() -> None:
    stats = ReceiverStats(ssrc=1, first_seq=10, probation=0)
    feed(stats, [10, 11, 12, 12, 11, 13])
    assert stats.cumulative_lost == -2
    assert stats.extended_highest_seq == 13


def test_restart_confirmed_by_two_sequential_packets() -> None:
    stats = ReceiverStats(ssrc=1, first_seq=100, probation=0)
    feed(stats, [100, 101, 102])
    assert stats.update_seq(40000) is False  # big jump: remembered as bad_seq 40001
    assert stats.update_seq(40001) is True  # confirmed: re-initialised
    assert (stats.base_seq, stats.received) == (40001, 1)


def test_jitter_is_zero_for_constant_transit() -> None:
    stats = ReceiverStats(ssrc=1, first_seq=0, probation=0)
    feed(stats, list(range(50)))
    assert stats.jitter == 0.0


def test_jitter_converges_per_a8_recurrence() -> None:
    # transit alternates by 10 ms = 80 timestamp units: |D| = 80 for every packet after the first,
    # so J_n = 80 * (1 - (15/16)^n) (J += (|D| - J) / 16, J_0 = 0).
    stats = ReceiverStats(ssrc=1, first_seq=0, probation=0)
    feed(stats, list(range(100)), arrival_jitter=[0.0, 0.010])
    expected = 80 * (1 - (15 / 16) ** 99)
    assert stats.jitter == pytest.approx(expected)
    assert stats.report_block(now=0).jitter == 79
    assert stats.jitter_ms == pytest.approx(79 / 8)


def test_rtt_rfc3550_worked_example() -> None:
    # RFC 3550 §6.4.1: A = 0xb710:8000, LSR = 0xb705:2000, DLSR = 0x0005:4000 → 0x0006:2000 = 6.125 s
    block = ReportBlock(ssrc=1, fraction_lost=0, packets_lost=0, highest_sequence=0, jitter=0,
                        lsr=0xB7052000, dlsr=0x00054000)  # fmt: skip
    arrival_ntp = 0xB7108000 << 16
    assert round_trip_time(block, arrival_ntp) == 6.125
    assert round_trip_time(ReportBlock(1, 0, 0, 0, 0, 0, 0), arrival_ntp) is None


def test_lsr_dlsr_reflect_the_last_sender_report() -> None:
    stats = ReceiverStats(ssrc=1, first_seq=0, probation=0)
    sent_at = 816003205.125  # RFC 3550's example SR time
    stats.on_sender_report(ntp_from_unix(sent_at), arrival=50.0)
    block = stats.report_block(now=55.25)
    assert (block.lsr, block.dlsr) == (0xB7052000, 0x00054000)
    # the SR's sender computes RTT = A - LSR - DLSR when the block comes back
    assert round_trip_time(block, ntp_from_unix(sent_at + 11.375)) == 6.125
