"""RFC 4733 telephone events: payload, receiver (one digit per event), sender packet sequence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.media.rtp.dtmf import (
    DtmfDigit,
    DtmfParseError,
    DtmfReceiver,
    TelephoneEvent,
    digit_for_event,
    dtmf_packets,
    event_for_digit,
)
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.sender import RtpSender


def event_packet(seq: int, ts: int, payload: TelephoneEvent, marker: bool = False) -> RtpPacket:
    return RtpPacket(101, seq, ts, 0x1234, bytes(payload), marker)


def test_payload_parse_and_serialise() -> None:
    # digit 5, end bit, volume 10, duration 1600 (200 ms at 8 kHz)
    data = bytes.fromhex("058a0640")
    event = TelephoneEvent.parse(data)
    assert event == TelephoneEvent(event=5, end=True, volume=10, duration=1600)
    assert event.digit == "5"
    assert bytes(event) == data
    assert TelephoneEvent.parse(bytes.fromhex("0b4a00a0")).reserved is True  # R bit kept
    assert bytes(TelephoneEvent.parse(bytes.fromhex("0b4a00a0"))) == bytes.fromhex("0b4a00a0")


@pytest.mark.parametrize("length", [0, 1, 2, 3, 5])
def test_payload_wrong_length(length: int) -> None:
    with pytest.raises(DtmfParseError) as info:
        TelephoneEvent.parse(bytes(length))
    assert str(info.value) == f"telephone-event payload must be 4 bytes, got {length}"


def test_payload_serialise_limits() -> None:
    with pytest.raises(ValueError, match=r"telephone-event volume 64 is outside 0\.\.63"):
        bytes(TelephoneEvent(1, volume=64))
    with pytest.raises(ValueError, match="telephone-event field out of range"):
        bytes(TelephoneEvent(1, duration=70000))


@given(st.binary(max_size=8))
def test_fuzz_payload(data: bytes) -> None:
    try:
        event = TelephoneEvent.parse(data)
    except DtmfParseError:
        return
    assert bytes(event) == data


def test_digit_mapping() -> None:
    assert [event_for_digit(d) for d in "0123456789*#ABCD"] == list(range(16))
    assert event_for_digit("a") == 12
    assert digit_for_event(11) == "#" and digit_for_event(16) is None
    with pytest.raises(ValueError, match="not a DTMF digit: 'x'"):
        event_for_digit("x")


def test_redundant_end_packets_yield_each_digit_once() -> None:
    # "1" then "9", each: start (M), two updates, three identical end packets — as an Asterisk sends them.
    stream = []
    seq = 100
    for ts, event in ((8000, 1), (9600, 9)):
        for i, duration in enumerate((160, 320, 480)):
            stream.append(event_packet(seq, ts, TelephoneEvent(event, False, 10, duration), marker=i == 0))
            seq += 1
        for _ in range(3):
            stream.append(event_packet(seq, ts, TelephoneEvent(event, True, 10, 800)))
            seq += 1
    receiver = DtmfReceiver()
    digits = [d for i, packet in enumerate(stream) for d in receiver.receive(packet, now=i * 0.02)]
    assert digits == [
        DtmfDigit("1", 1, 8000, 800, 10, True),
        DtmfDigit("9", 9, 9600, 800, 10, True),
    ]
    assert receiver.next_deadline() is None


def test_reordered_and_late_packets_do_not_repeat_a_digit() -> None:
    receiver = DtmfReceiver()
    end = event_packet(5, 400, TelephoneEvent(11, True, 10, 800))
    start = event_packet(1, 400, TelephoneEvent(11, False, 10, 160), marker=True)
    assert [d.digit for d in receiver.receive(end, 0.0)] == ["#"]  # end arrives first (start lost/late)
    assert receiver.receive(start, 0.01) == []  # the late start does not open a new event
    assert receiver.receive(end, 0.02) == []


def test_lost_end_packets_closed_by_next_event_or_timeout() -> None:
    receiver = DtmfReceiver(timeout=0.5)
    assert receiver.receive(event_packet(1, 100, TelephoneEvent(2, False, 10, 160), True), 0.0) == []
    # next event starts while "2" never ended
    (two,) = receiver.receive(event_packet(2, 900, TelephoneEvent(3, False, 10, 160), True), 0.2)
    assert (two.digit, two.ended) == ("2", False)
    assert receiver.next_deadline() == pytest.approx(0.7)
    assert receiver.poll(0.6) == []
    (three,) = receiver.poll(0.7)
    assert (three.digit, three.timestamp, three.ended) == ("3", 900, False)
    assert receiver.poll(5.0) == []


def test_sender_sequence_for_a_digit() -> None:
    sender = RtpSender(0, ssrc=0xABCD, initial_seq=500, initial_ts=16000)
    scheduled = dtmf_packets(sender, "7", now=10.0, duration_ms=100, ptime_ms=20)
    events = [TelephoneEvent.parse(s.packet.payload) for s in scheduled]
    packets = [s.packet for s in scheduled]
    # 4 updates (20..80 ms), then the end packet three times at 100 ms
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert [p.marker for p in packets] == [True] + [False] * 6
    assert [p.sequence_number for p in packets] == list(range(500, 507))
    assert {p.timestamp for p in packets} == {16000}
    assert {p.payload_type for p in packets} == {101}
    assert [s.at for s in scheduled] == pytest.approx([10.0 + 0.02 * i for i in range(7)])
    # media after the event continues past it, with the marker of a new talkspurt
    after = sender.next_packet(b"\xff" * 160, now=10.14)
    assert (after.sequence_number, after.timestamp, after.marker) == (507, 16800, True)


def test_sender_output_round_trips_through_receiver() -> None:
    sender = RtpSender(0, ssrc=1, initial_seq=65533, initial_ts=0xFFFFFF00)
    receiver = DtmfReceiver()
    digits = []
    now = 0.0
    for digit in "159#":
        for scheduled in dtmf_packets(sender, digit, now=now, duration_ms=120, ptime_ms=20):
            wire = RtpPacket.parse(bytes(scheduled.packet))
            digits += receiver.receive(wire, scheduled.at)
        now += 0.3
    assert [d.digit for d in digits] == ["1", "5", "9", "#"]
    assert all(d.ended and d.duration == 960 for d in digits)


def test_short_event_and_bad_arguments() -> None:
    sender = RtpSender(0, ssrc=1, initial_seq=0, initial_ts=0)
    scheduled = dtmf_packets(sender, "0", now=0.0, duration_ms=20, ptime_ms=20)
    assert [(s.packet.marker, TelephoneEvent.parse(s.packet.payload).end) for s in scheduled] == [
        (True, True),
        (False, True),
        (False, True),
    ]
    with pytest.raises(ValueError, match="must be positive"):
        dtmf_packets(sender, "1", now=0.0, duration_ms=0)
    with pytest.raises(ValueError, match="exceeds the 16-bit duration field"):
        dtmf_packets(sender, "1", now=0.0, duration_ms=9000)
