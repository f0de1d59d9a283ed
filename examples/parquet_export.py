"""Example (c): the finished calls' CDRs and their transcript turns as Parquet files for the data team.

Two agents of one app:

- `cdrs` reads `sentiric.cdr` and keeps every call's final record (`finished_at` set; the partial
  records of running calls are skipped), the latest per call id.
- `turns` reads `sentiric.calls` and folds each call's caller and agent turns with the platform's own
  pure fold (`projections.cdr.fold_turn`, the one that fills PostgreSQL's `turns` table); when the call
  ends (`CallEnded`) its turns are ready. A call that never ends exports no turns.

Every `EXPORT_FLUSH_S` seconds what is ready goes to `EXPORT_DIR/cdrs/part-*.parquet` and
`EXPORT_DIR/turns/part-*.parquet` (written under a temporary name, then renamed: a reader never sees
half a file), one column per field with its type (strings, integers, floats, booleans, UTC timestamps).
Read the directory as one table, e.g. `pyarrow.parquet.read_table("export/cdrs")` or DuckDB's
`read_parquet('export/cdrs/*.parquet')`. Delivery is at least once: after a restart a call may be in
two files; keep the row with the highest `event_count` per `call_id` (turns: per `call_id, turn_id`).

    EXPORT_DIR=/srv/export sentiric processor run examples.parquet_export:cdrs
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import types
import typing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import faust
import pyarrow as pa
import pyarrow.parquet as pq
import structlog

from projections.cdr import TurnRow, fold_turn, turn_key
from schemas import models as m
from sentiric import processors

log = structlog.get_logger("examples.parquet_export")
ARROW_TYPES: Final[dict[type, pa.DataType]] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    datetime: pa.timestamp("us", tz="UTC"),
}


def arrow_schema(row_type: type[Any]) -> pa.Schema:
    """The Parquet schema of a dataclass of scalars: one nullable column per field, in field order."""
    hints = typing.get_type_hints(row_type)
    fields = []
    for f in dataclasses.fields(row_type):
        hint = hints[f.name]
        scalar = [a for a in typing.get_args(hint) if a is not type(None)] if _is_union(hint) else [hint]
        fields.append(pa.field(f.name, ARROW_TYPES[scalar[0]]))
    return pa.schema(fields)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


CDR_SCHEMA: Final = arrow_schema(m.CallDetailRecord)
TURN_SCHEMA: Final = arrow_schema(TurnRow)


class Export:
    """The pure part: records in, rows ready for the next file out."""

    def __init__(self) -> None:
        self.cdrs: dict[str, dict[str, Any]] = {}
        self.turns: list[dict[str, Any]] = []
        self._open: dict[str, dict[str, TurnRow]] = {}

    def cdr(self, record: m.CallDetailRecord) -> None:
        if record.finished_at is not None:
            self.cdrs[record.call_id] = record.to_record()

    def fact(self, fact: Any) -> None:
        if isinstance(fact, m.CallEnded):
            finished = self._open.pop(fact.call_id, {})
            self.turns.extend(dataclasses.asdict(t) for t in sorted(finished.values(), key=_turn_order))
            return
        key = turn_key(fact)
        if key is None:
            return
        call = self._open.setdefault(fact.call_id, {})
        row = call.get(key) or TurnRow(call_id=fact.call_id, turn_id=key)
        call[key] = fold_turn(row, fact)

    def take(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The rows ready now (and forget them)."""
        cdrs, turns = list(self.cdrs.values()), self.turns
        self.cdrs, self.turns = {}, []
        return cdrs, turns


def _turn_order(turn: TurnRow) -> tuple[datetime, str]:
    return (turn.at or datetime.min.replace(tzinfo=UTC), turn.turn_id)


_files = itertools.count()


def write_parquet(directory: Path, rows: list[dict[str, Any]], schema: pa.Schema) -> Path | None:
    """`rows` as one new Parquet file in `directory` (renamed into place once complete)."""
    if not rows:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = directory / f"part-{stamp}-{os.getpid()}-{next(_files)}.parquet"
    partial = path.with_suffix(".parquet.tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), partial)
    partial.replace(path)
    return path


APP_ID: Final = os.environ.get("EXPORT_APP", "example-parquet-export")
EXPORT_DIR: Final = Path(os.environ.get("EXPORT_DIR", "export"))
FLUSH_S: Final = float(os.environ.get("EXPORT_FLUSH_S", "10"))
app = processors.create_app(APP_ID)
export = Export()


@app.agent(processors.cdr_topic(app))
async def cdrs(stream: faust.StreamT[bytes]) -> None:
    proc = processors.Processor(app, f"{APP_ID}-cdrs")
    async for record in proc.records(stream, m.CallDetailRecord):
        with proc.guard():
            export.cdr(record)


@app.agent(processors.calls_topic(app))
async def turns(stream: faust.StreamT[bytes]) -> None:
    proc = processors.Processor(app, f"{APP_ID}-turns")
    async for fact in proc.records(stream):
        with proc.guard():
            export.fact(fact)


@app.timer(interval=FLUSH_S)  # type: ignore[untyped-decorator]  # faust types timer() loosely at module level
async def flush() -> None:
    """Write what is ready. An offset committed before its row reaches a file is possible (the rows
    wait in memory up to FLUSH_S): a crash then loses them; re-export from offset 0 with a new app id."""
    cdr_rows, turn_rows = export.take()
    for name, rows, schema in (("cdrs", cdr_rows, CDR_SCHEMA), ("turns", turn_rows, TURN_SCHEMA)):
        path = write_parquet(EXPORT_DIR / name, rows, schema)
        if path is not None:
            log.info("exported", rows=len(rows), file=str(path))
