from __future__ import annotations

from edge.media.rtp.sender import RtpSender


def test_sequence_and_timestamp_continuous_with_wraparound() -> None:
    sender = RtpSender(0, ssrc=7, initial_seq=65534, initial_ts=0xFFFFFF00)
    packets = [sender.next_packet(b"\xff" * 160, now=i * 0.02) for i in range(4)]
    assert [p.sequence_number for p in packets] == [65534, 65535, 0, 1]
    assert [p.timestamp for p in packets] == [0xFFFFFF00, 0xFFFFFFA0, 0x40, 0xE0]
    assert [p.marker for p in packets] == [True, False, False, False]
    assert {p.ssrc for p in packets} == {7}
    assert (sender.packet_count, sender.octet_count) == (4, 640)


def test_new_talkspurt_after_idle_gap_advances_timestamp_by_wall_clock() -> None:
    sender = RtpSender(8, ssrc=1, initial_seq=10, initial_ts=1000)
    sender.next_packet(b"a" * 160, now=0.0)
    sender.next_packet(b"a" * 160, now=0.02)
    sender.end_talkspurt()
    resumed = sender.next_packet(b"a" * 160, now=1.02)  # one second of silence later
    assert resumed.marker is True
    assert resumed.sequence_number == 12  # no gap in sequence numbers
    assert resumed.timestamp == 1160 + 8000  # last packet's ts + 1 s of samples


def test_random_initial_state_is_in_range() -> None:
    sender = RtpSender(0)
    assert 0 <= sender.ssrc < 2**32 and 0 <= sender.seq < 2**16 and 0 <= sender.ts < 2**32


def test_the_fast_pack_is_next_packet_byte_for_byte() -> None:
    fast, slow = (RtpSender(0, ssrc=5, initial_seq=65534, initial_ts=(1 << 32) - 160) for _ in range(2))
    for i, now in enumerate((1.0, 1.02, 1.04, 1.5)):
        if i == 3:  # a talkspurt after a pause: marker, and the timestamp follows the wall clock
            fast.end_talkspurt()
            slow.end_talkspurt()
        payload = bytes([i]) * 160
        assert fast.pack_media(payload, now) == bytes(slow.next_packet(payload, now))
    assert (fast.seq, fast.ts, fast.packet_count, fast.octet_count) == (
        slow.seq,
        slow.ts,
        slow.packet_count,
        slow.octet_count,
    )
    assert fast.rtp_timestamp_at(1.6) == slow.rtp_timestamp_at(1.6)
