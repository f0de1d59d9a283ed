"""The CDR agent's step: the projection's fold, once per event id, a record a processor can decode."""

from __future__ import annotations

import pytest

from projections.cdr import LogPosition, Projection
from projections.synthetic import day_of_calls
from schemas import models as m
from schemas.codec import decode, encode
from schemas.samples import sample
from streams.agents.cdr import StoredCdr, step, to_record, to_row

Folded = tuple[bytes | None, m.CallDetailRecord | None]


def _fold_all(facts: tuple[object, ...], *, twice: bool = False) -> Folded:
    stored: bytes | None = None
    record = None
    for offset, fact in enumerate(facts):
        for _ in range(2 if twice else 1):
            out = step(stored, fact, LogPosition("sentiric.calls", 0, offset))
            assert out is not None
            stored = out.stored if out.stored is not None else stored
            record = out.record
    return stored, record


def test_the_record_is_the_projection_row_of_the_same_facts() -> None:
    for call in day_of_calls(24, seed=3):
        projection = Projection()
        for offset, fact in enumerate(call.facts):
            projection.apply(fact, LogPosition("sentiric.calls", 0, offset))
        _, record = _fold_all(call.facts)
        assert record is not None
        assert record == to_record(projection.calls[call.call_id])
        assert decode(encode(record)) == record  # on the topic: the generated model, round trip


def test_a_duplicate_fact_leaves_the_record_and_the_table_value_unchanged() -> None:
    (call,) = day_of_calls(1, seed=5)
    stored, once = _fold_all(call.facts)
    stored_twice, twice = _fold_all(call.facts, twice=True)
    assert twice == once and stored_twice == stored
    assert once is not None and once.event_count == len({f.event_id for f in call.facts})
    again = step(stored, call.facts[0], LogPosition("sentiric.calls", 0, 99))
    assert again is not None and again.stored is None and again.record == once  # republished as is


def test_the_stored_value_round_trips_and_a_corrupt_one_is_a_value_error() -> None:
    (call,) = day_of_calls(1, seed=9)
    stored, record = _fold_all(call.facts)
    assert stored is not None and record is not None
    parsed = StoredCdr.parse(stored)
    assert parsed.row == to_row(record)
    assert parsed.seen == tuple(f.event_id for f in call.facts)
    with pytest.raises(ValueError):
        StoredCdr.parse(stored[:-3])
    with pytest.raises(ValueError):
        StoredCdr.parse(b"\x00\x00")


def test_a_record_that_is_not_a_call_fact_publishes_nothing() -> None:
    assert step(None, None, None) is None  # undecodable
    assert step(None, sample(m.KpiWindowReported), None) is None
    assert step(None, sample(m.CallDetailRecord), None) is None


def test_finished_before_uses_the_finish_time() -> None:
    answered = next(c for c in day_of_calls(12) if c.disposition == "answered")
    stored, record = _fold_all(answered.facts)
    assert stored is not None and record is not None and record.finished_at is not None
    parsed = StoredCdr.parse(stored)
    assert parsed.finished_before(record.finished_at.timestamp() + 1)
    assert not parsed.finished_before(record.finished_at.timestamp() - 1)
