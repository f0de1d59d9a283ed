"""`merge_timeline`: facts keep log order, commands slot in by occurrence time, after a fact of equal time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas import models as m
from schemas.envelope import envelope
from sentiric.eventlog.consumer import Decoded, merge_timeline

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
