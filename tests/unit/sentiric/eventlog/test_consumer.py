"""`merge_timeline`: facts keep log order, commands slot in by occurrence time, after a fact of equal time;
`DeadLetters`: how every consumer sets a record aside."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from schemas import models as m
from schemas.envelope import envelope
from sentiric.eventlog.consumer import (
    MAX_ERROR_CHARS,
    UNAPPLIABLE,
    UNDECODABLE,
    DeadLetters,
    Decoded,
    merge_timeline,
)
from sentiric.eventlog.producer import BufferFull
from sentiric.eventlog.topics import DEADLETTER, DLQ_CONSUMER, DLQ_ERROR, DLQ_OFFSET, DLQ_PARTITION, DLQ_TOPIC

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fact(seq: int, at_ms: int) -> Decoded:
    record = m.CallEstablished(
        **envelope("c1", seq=seq, source="edge-1", occurred_at=T0 + timedelta(milliseconds=at_ms))
    )
    return Decoded(record, "sentiric.calls", 0, seq, at_ms)


def command(at_ms: int, offset: int) -> Decoded:
    record = m.Hangup(
        **envelope("c1", seq=1, source="dialog", occurred_at=T0 + timedelta(milliseconds=at_ms)), reason="x"
    )
    return Decoded(record, "sentiric.commands.edge-1", 0, offset, at_ms)


def test_a_command_stamped_with_its_causes_time_follows_the_cause() -> None:
    f1, f2, f3 = fact(1, 0), fact(2, 10), fact(3, 20)
    caused_by_f2 = command(10, 0)
    assert merge_timeline([f1, f2, f3], [caused_by_f2]) == [f1, f2, caused_by_f2, f3]


def test_commands_between_and_after_facts_keep_time_order() -> None:
    f1, f2 = fact(1, 0), fact(2, 10)
    late, early, last = command(5, 1), command(5, 0), command(30, 2)
    assert merge_timeline([f1, f2], [late, last, early]) == [f1, early, late, f2, last]


# --- DeadLetters: every consumer sets a record aside the same way ------------------------------------


@dataclass
class Msg:
    topic: str = "sentiric.calls"
    partition: int = 2
    offset: int = 41
    key: bytes | None = b"call-1"
    value: bytes | None = b"\xc3\x01payload"


class Publisher:
    def __init__(self, full: bool = False) -> None:
        self.sent: list[tuple[str, bytes | None, bytes | None, dict[str, bytes]]] = []
        self.full = full

    def publish_raw(self, topic, key, value, headers=()) -> None:
        if self.full:
            raise BufferFull("full")
        self.sent.append((topic, key, value, dict(headers)))


def counted(consumer: str, reason: str, topic: str = "sentiric.calls") -> float:
    labels = {"topic": topic, "consumer": consumer, "reason": reason}
    return REGISTRY.get_sample_value("sentiric_log_dead_lettered_total", labels) or 0.0


def test_a_record_set_aside_is_copied_with_its_origin_error_and_consumer() -> None:
    publisher = Publisher()
    before = counted("unit-a", UNAPPLIABLE)
    DeadLetters(publisher, "unit-a").set_aside(Msg(), ValueError("bad\x00 value"))
    ((topic, key, value, headers),) = publisher.sent
    assert (topic, key, value) == (DEADLETTER, b"call-1", b"\xc3\x01payload")
    assert headers == {
        DLQ_TOPIC: b"sentiric.calls",
        DLQ_PARTITION: b"2",
        DLQ_OFFSET: b"41",
        DLQ_ERROR: b"ValueError: bad\x00 value",
        DLQ_CONSUMER: b"unit-a",
    }
    assert counted("unit-a", UNAPPLIABLE) == before + 1


def test_guard_swallows_the_error_of_one_record_and_counts_it() -> None:
    publisher = Publisher()
    dead = DeadLetters(publisher, "unit-b")
    handled = []
    for offset in range(3):
        with dead.guard(Msg(offset=offset)):
            if offset == 1:
                raise KeyError("poison")
            handled.append(offset)
    assert handled == [0, 2]
    assert [h[DLQ_OFFSET] for *_, h in publisher.sent] == [b"1"]
    assert dead.count == 1


def test_guard_lets_cancellation_through() -> None:
    dead = DeadLetters(Publisher(), "unit-c")
    with pytest.raises(asyncio.CancelledError), dead.guard(Msg()):
        raise asyncio.CancelledError


def test_without_a_producer_or_with_a_full_one_the_record_is_still_counted_and_skipped() -> None:
    before = counted("unit-d", UNDECODABLE)
    DeadLetters(None, "unit-d").send(Msg(), "corrupt")
    DeadLetters(Publisher(full=True), "unit-d").send(Msg(), "corrupt")  # logged, not raised
    assert counted("unit-d", UNDECODABLE) == before + 2


def test_errors_in_headers_are_bounded() -> None:
    publisher = Publisher()
    DeadLetters(publisher, "unit-e").set_aside(Msg(), RuntimeError("x" * 10_000))
    assert len(publisher.sent[0][3][DLQ_ERROR]) == MAX_ERROR_CHARS
