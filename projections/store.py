"""The projection tables in PostgreSQL: load the rows a batch touches, write what it changed, move the
consumed offsets — all on one connection inside the caller's transaction — and checksum the tables.

SQL is generated from the row dataclasses in `projections.cdr` (fields = columns), so the fold and the
tables cannot drift apart without the migration test noticing.

PostgreSQL's `text` cannot hold NUL. The edge escapes wire text before it becomes a fact
(`schemas.wiretext`), but facts written before it did, or by another producer, may carry NUL:
`without_nul` gives the projector each record with NUL written as the same visible ``\\x00`` escape,
so such a fact still projects (keys and rows alike, deterministically: a rebuild gives the same
checksum) instead of being refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from functools import cache
from typing import Any
from uuid import UUID

from projections.cdr import (
    CallRow,
    DtmfRow,
    KpiWindowRow,
    PlaybackRow,
    Projection,
    TurnRow,
    as_tuple,
    columns,
)
from projections.connection import Connection

# (table, row type, primary key) — also the checksum's tables, in its order.
TABLES: tuple[tuple[str, type[Any], tuple[str, ...]], ...] = (
    ("calls", CallRow, ("call_id",)),
    ("transcript_turns", TurnRow, ("call_id", "turn_id")),
    ("playbacks", PlaybackRow, ("call_id", "playback_id")),
    ("dtmf", DtmfRow, ("call_id", "event_id")),
    ("kpi_windows", KpiWindowRow, ("tenant", "source", "window_start")),
)
CHECKSUM_TABLES: tuple[tuple[str, str], ...] = (
    *((table, ", ".join(key)) for table, _, key in TABLES),
    ("processed_events", "event_id"),
)


NUL_ESCAPE = "\\x00"  # as schemas.wiretext writes it


@cache
def _text_fields(model: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(model) if str(f.type).startswith("str"))


def without_nul(record: Any) -> Any:
    """The record with NUL in its text fields escaped (the record itself when it has none)."""
    changes = {}
    model: type = type(record)  # (record is Any, and mypy doubts type[Any] is hashable)
    for name in _text_fields(model):
        value = getattr(record, name)
        if value is not None and "\x00" in value:
            changes[name] = value.replace("\x00", NUL_ESCAPE)
    return dataclasses.replace(record, **changes) if changes else record


class FencedError(RuntimeError):
    """Another projector moved the stored offsets: this one must stop (at most one writer)."""


def _upsert_sql(table: str, row_type: type[Any], key: tuple[str, ...], *, update: bool = True) -> str:
    cols = columns(row_type)
    values = ", ".join(f"${i}" for i in range(1, len(cols) + 1))
    if update:
        sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key)
        conflict = f"DO UPDATE SET {sets}"
    else:
        conflict = "DO NOTHING"
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) {conflict}"
    )


_UPSERT = {
    table: _upsert_sql(table, row_type, key, update=table != "dtmf") for table, row_type, key in TABLES
}
_SELECT_CALLS = f"SELECT {', '.join(columns(CallRow))} FROM calls WHERE call_id = ANY($1::text[])"
_SELECT_TURNS = f"SELECT {', '.join(columns(TurnRow))} FROM transcript_turns WHERE call_id = ANY($1::text[])"
_SELECT_PLAYBACKS = f"SELECT {', '.join(columns(PlaybackRow))} FROM playbacks WHERE call_id = ANY($1::text[])"


async def load(conn: Connection, call_ids: Iterable[str], event_ids: Iterable[UUID]) -> Projection:
    """A `Projection` holding the stored rows of these calls and which of these events were applied."""
    ids = sorted(set(call_ids))
    calls: dict[str, CallRow] = {}
    turns: dict[tuple[str, str], TurnRow] = {}
    playbacks: dict[tuple[str, str], PlaybackRow] = {}
    if ids:
        for r in await conn.fetch(_SELECT_CALLS, ids):
            calls[r["call_id"]] = CallRow(*r.values())
        for r in await conn.fetch(_SELECT_TURNS, ids):
            turns[(r["call_id"], r["turn_id"])] = TurnRow(*r.values())
        for r in await conn.fetch(_SELECT_PLAYBACKS, ids):
            playbacks[(r["call_id"], r["playback_id"])] = PlaybackRow(*r.values())
    events = list(set(event_ids))
    seen: set[UUID] = set()
    if events:
        rows = await conn.fetch(
            "SELECT event_id FROM processed_events WHERE event_id = ANY($1::uuid[])", events
        )
        seen = {r["event_id"] for r in rows}
    return Projection(calls=calls, turns=turns, playbacks=playbacks, seen=seen)


async def save(conn: Connection, projection: Projection) -> None:
    """Write the rows the projection changed and the events it applied (inside a transaction)."""
    batches: list[tuple[str, list[Any]]] = [
        ("calls", projection.changed_calls()),
        ("transcript_turns", projection.changed_turns()),
        ("playbacks", projection.changed_playbacks()),
        ("dtmf", [projection.dtmf[k] for k in sorted(projection.dtmf)]),
        ("kpi_windows", [projection.kpi_windows[k] for k in sorted(projection.kpi_windows)]),
    ]
    for table, rows in batches:
        if rows:
            await conn.executemany(_UPSERT[table], [as_tuple(r) for r in rows])
    if projection.new_events:
        await conn.execute(
            "INSERT INTO processed_events (event_id, call_id) "
            "SELECT * FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING",
            [e for e, _ in projection.new_events],
            [c for _, c in projection.new_events],
        )


async def stored_offsets(conn: Connection, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM consumer_offsets WHERE topic = ANY($1::text[])",
        list(topics),
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def advance_offset(
    conn: Connection, topic: str, partition: int, expected: int | None, next_offset: int
) -> None:
    """Move one partition's stored offset from `expected` (None: not stored yet) to `next_offset`.

    A compare-and-set: if another projector moved it meanwhile, raise `FencedError` (the caller's
    transaction then rolls back, rows included)."""
    if expected is None:
        status = await conn.execute(
            "INSERT INTO consumer_offsets (topic, partition, next_offset) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING",
            topic,
            partition,
            next_offset,
        )
    else:
        status = await conn.execute(
            "UPDATE consumer_offsets SET next_offset = $3 "
            "WHERE topic = $1 AND partition = $2 AND next_offset = $4",
            topic,
            partition,
            next_offset,
            expected,
        )
    if status.endswith(" 0"):
        raise FencedError(
            f"stored offset of {topic}[{partition}] is no longer {expected}: another projector is writing"
        )


async def checksum(conn: Connection) -> str:
    """sha256 over every projection table's rows in primary-key order, as PostgreSQL's canonical row
    text in UTC. Equal tables give equal checksums whichever process or run wrote them."""
    digest = hashlib.sha256()
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        await conn.execute("SET LOCAL TIME ZONE 'UTC'")
        await conn.execute("SET LOCAL extra_float_digits = 1")
        for table, order in CHECKSUM_TABLES:
            digest.update(f"\x00{table}\x00".encode())
            async for record in conn.cursor(f"SELECT t::text FROM {table} t ORDER BY {order}", prefetch=2000):
                digest.update(record[0].encode())
                digest.update(b"\n")
    return digest.hexdigest()


async def table_counts(conn: Connection) -> dict[str, int]:
    return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table, _ in CHECKSUM_TABLES}
