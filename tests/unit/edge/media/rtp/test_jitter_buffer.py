from __future__ import annotations

import pytest

from edge.media.rtp.jitter_buffer import Frame, JitterBuffer, Lost
from edge.media.rtp.packet import RtpPacket


def pkt(seq: int) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (seq * 160) & 0xFFFFFFFF, 1, bytes([seq & 0xFF]) * 160)


def drain(buffer: JitterBuffer, now: float) -> list[Frame | Lost]:
    out = []
    while (item := buffer.pop(now)) is not None:
        out.append(item)
    return out


def played(items: list[Frame | Lost]) -> list[int | None]:
    return [item.packet.sequence_number if isinstance(item, Frame) else None for item in items]


def test_cadence_and_playout_delay() -> None:
    buffer = JitterBuffer(ptime=0.02, playout_delay=0.06)
    assert buffer.pop(0.0) is None and buffer.next_deadline() is None
    buffer.push(pkt(10), now=1.0)
    assert buffer.next_deadline() == pytest.approx(1.06)
    assert buffer.pop(1.05) is None
    assert played(drain(buffer, 1.06)) == [10]
    assert buffer.next_deadline() == pytest.approx(1.08)


def test_reorders_within_window_across_wraparound() -> None:
    buffer = JitterBuffer()
    for seq in (65534, 0, 65535, 2, 1):
        buffer.push(pkt(seq), now=0.0)
    assert played(drain(buffer, 0.06 + 4 * 0.02)) == [65534, 65535, 0, 1, 2]
    assert buffer.stats.played == 5 and buffer.stats.lost == 0


def test_loss_late_and_duplicate_accounting() -> None:
    buffer = JitterBuffer()
    buffer.push(pkt(100), 0.0)
    buffer.push(pkt(101), 0.0)
    buffer.push(pkt(101), 0.001)  # duplicate while buffered
    buffer.push(pkt(103), 0.01)
    items = drain(buffer, 0.06 + 3 * 0.02)  # frames 100..103 due
    assert played(items) == [100, 101, None, 103]
    assert isinstance(items[2], Lost) and items[2].sequence % 65536 == 102
    buffer.push(pkt(102), 0.2)  # arrives after its frame was concealed: late
    buffer.push(pkt(101), 0.2)  # already played: duplicate
    s = buffer.stats
    assert (s.received, s.played, s.lost, s.late, s.duplicates) == (3, 3, 1, 1, 2)


def test_bounded_size_and_overflow() -> None:
    buffer = JitterBuffer(capacity=8, resync_threshold=100)
    for seq in range(20):
        buffer.push(pkt(seq), 0.0)
    assert len(buffer) == 8
    assert buffer.stats.overflow == 12


def test_large_jump_resyncs() -> None:
    buffer = JitterBuffer(capacity=8, resync_threshold=50)
    buffer.push(pkt(0), 0.0)
    assert played(drain(buffer, 0.06)) == [0]
    buffer.push(pkt(30000), 0.07)  # new source sequence space
    assert buffer.stats.resyncs == 1
    assert played(drain(buffer, 0.13)) == [30000]


def test_a_packet_per_frame_with_jitter_plays_everything() -> None:
    buffer = JitterBuffer(playout_delay=0.06)
    jitter = [0.0, 0.035, 0.004, 0.028, 0.0, 0.039, 0.012]
    out: list[Frame | Lost] = []
    for i in range(200):
        arrival = i * 0.02 + jitter[i % len(jitter)]
        out += drain(buffer, arrival)
        buffer.push(pkt(i), arrival)
    out += drain(buffer, 10.0)[:5]
    assert played(out)[:200] == list(range(200))


def test_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError, match="capacity >= 1"):
        JitterBuffer(capacity=0)


def test_late_packets_grow_the_delay_up_to_the_maximum() -> None:
    buffer = JitterBuffer(ptime=0.02, playout_delay=0.02, max_delay=0.06)
    jitter = [0.0, 0.035, 0.004, 0.028, 0.0, 0.039, 0.012]  # up to 39 ms late
    out: list[Frame | Lost] = []
    for i in range(200):
        arrival = i * 0.02 + jitter[i % len(jitter)]
        out += drain(buffer, arrival)
        buffer.push(pkt(i), arrival)
    out += drain(buffer, 10.0)[:5]
    s = buffer.stats
    # 20 ms is too short for 39 ms of jitter: the first late packet raises it to 40 ms, and from then
    # on every packet plays; the late one was concealed.
    assert (s.late, s.grown) == (1, 1) and buffer.playout_delay == pytest.approx(0.04)
    assert played(out)[:200] == [0, None, *range(2, 200)] and s.played == 199


def test_growth_stops_at_the_maximum() -> None:
    buffer = JitterBuffer(ptime=0.02, playout_delay=0.02, max_delay=0.04)
    # every third packet 70 ms late: more than any delay allowed
    arrivals = sorted((i * 0.02 + (0.07 if i % 3 == 2 else 0.0), i) for i in range(100))
    for arrival, i in arrivals:
        drain(buffer, arrival)
        buffer.push(pkt(i), arrival)
    assert buffer.playout_delay == pytest.approx(0.04) and buffer.stats.grown == 1
    assert buffer.stats.late > 20


def test_fixed_delay_by_default() -> None:
    buffer = JitterBuffer(playout_delay=0.02)
    buffer.push(pkt(0), 0.0)
    drain(buffer, 0.1)
    buffer.push(pkt(0), 0.1)  # duplicate, not late
    buffer.push(pkt(1), 0.2)  # late
    assert buffer.stats.late == 1 and buffer.playout_delay == 0.02
    with pytest.raises(ValueError, match="max_delay"):
        JitterBuffer(playout_delay=0.06, max_delay=0.04)
