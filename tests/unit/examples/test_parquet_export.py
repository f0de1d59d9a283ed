"""The Parquet export's pure part (examples.parquet_export): final CDRs only, the latest per call;
turns released when their call ends; typed columns that round-trip through a Parquet file."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from examples.parquet_export import CDR_SCHEMA, TURN_SCHEMA, Export, write_parquet
from projections.synthetic import day_of_calls
from schemas import models as m


def test_only_final_records_are_exported_the_latest_per_call() -> None:
    export = Export()
    export.cdr(m.CallDetailRecord(call_id="a", disposition="in-progress"))
    call = day_of_calls(1)[0]
    ended = call.facts[-1].occurred_at
    export.cdr(m.CallDetailRecord(call_id="b", disposition="answered", event_count=3, finished_at=ended))
    export.cdr(m.CallDetailRecord(call_id="b", disposition="answered", event_count=4, finished_at=ended))
    cdrs, turns = export.take()
    assert [(r["call_id"], r["event_count"]) for r in cdrs] == [("b", 4)] and turns == []
    assert export.take() == ([], [])


def test_turns_wait_for_their_call_to_end() -> None:
    call = next(c for c in day_of_calls(11, seed=3) if c.scenario == "answered" and c.turns)
    export = Export()
    for fact in call.facts[:-3]:
        export.fact(fact)
    assert export.take() == ([], [])
    for fact in call.facts[-3:]:
        export.fact(fact)
    _, turns = export.take()
    assert [t["speaker"] for t in turns] == ["agent"] + ["caller", "agent"] * call.turns
    assert any(isinstance(f, m.CallEnded) for f in call.facts[-3:])


def test_rows_round_trip_through_parquet_with_their_types(tmp_path: Path) -> None:
    call = next(c for c in day_of_calls(11, seed=3) if c.scenario == "answered" and c.turns)
    export = Export()
    for fact in call.facts:
        export.fact(fact)
    _, turns = export.take()
    path = write_parquet(tmp_path / "turns", turns, TURN_SCHEMA)
    assert path is not None and path.exists() and not list(tmp_path.glob("turns/*.tmp"))
    table = pq.read_table(path)
    assert table.schema == TURN_SCHEMA and table.to_pylist() == turns
    assert TURN_SCHEMA.field("at").type == pa.timestamp("us", tz="UTC")
    assert CDR_SCHEMA.field("mos").type == pa.float64() and CDR_SCHEMA.field("talk_ms").type == pa.int64()
    assert write_parquet(tmp_path / "none", [], CDR_SCHEMA) is None
