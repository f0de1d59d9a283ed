"""Read queries over the CDR tables: filtered keyset paging of calls, and one call in full.

Paging is by keyset on `(invite_at DESC, call_id DESC)` (index `calls_invite_at`): the cursor is the
last row's key, so a page costs the same at any depth and rows inserted meanwhile never shift pages.
Calls whose INVITE fact has not been projected (no `invite_at`) are not listed; they can still be
fetched by id.

Tenants (issue 15): every query takes the tenant it reads for (None: every tenant, a platform admin
acting in none) and filters on `calls.tenant` in SQL, so another tenant's call is "not found" rather
than fetched and hidden.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from projections.cdr import CallRow, DtmfRow, PlaybackRow, TurnRow, columns
from projections.connection import Connection

BOOKKEEPING = frozenset({"quality_seq", "recording_seq", "transfer_seq", "transcript_seq"})
SUMMARY_COLUMNS: tuple[str, ...] = (
    "call_id",
    "sip_call_id",
    "caller",
    "callee",
    "channel",
    "direction",
    "invite_at",
    "answered_at",
    "finished_at",
    "disposition",
    "end_reason",
    "degraded_reason",
    "hangup_by",
    "pdd_ms",
    "duration_ms",
    "codec",
    "srtp",
    "mos",
    "recording_uri",
)
CALL_COLUMNS = tuple(c for c in columns(CallRow) if c not in BOOKKEEPING)
TURN_COLUMNS = tuple(c for c in columns(TurnRow) if c not in BOOKKEEPING and c != "call_id")
PLAYBACK_COLUMNS = tuple(c for c in columns(PlaybackRow) if c != "call_id")
DTMF_COLUMNS = tuple(c for c in columns(DtmfRow) if c != "call_id")


class CursorError(ValueError):
    """A paging cursor that this API did not issue."""


@dataclass(frozen=True, slots=True)
class CallFilter:
    start: datetime | None = None
    end: datetime | None = None
    caller: str | None = None
    callee: str | None = None
    disposition: str | None = None
    tenant: str | None = None  # None: every tenant


def encode_cursor(invite_at: datetime, call_id: str) -> str:
    raw = json.dumps([invite_at.isoformat(), call_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, call_id = json.loads(raw)
        when = datetime.fromisoformat(at)
        if when.tzinfo is None or not isinstance(call_id, str):
            raise ValueError("not a cursor")
        return when, call_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise CursorError(f"invalid cursor: {cursor[:40]!r}") from exc


async def list_calls(
    conn: Connection, where: CallFilter, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of calls, newest INVITE first, and the cursor of the next page (None at the end)."""
    clauses = ["invite_at IS NOT NULL"]
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    if where.start is not None:
        clauses.append(f"invite_at >= {arg(where.start)}")
    if where.end is not None:
        clauses.append(f"invite_at < {arg(where.end)}")
    for column in ("caller", "callee", "disposition", "tenant"):
        value = getattr(where, column)
        if value is not None:
            clauses.append(f"{column} = {arg(value)}")
    if cursor is not None:
        at, call_id = decode_cursor(cursor)
        clauses.append(f"(invite_at, call_id) < ({arg(at)}, {arg(call_id)})")
    sql = (
        f"SELECT {', '.join(SUMMARY_COLUMNS)} FROM calls WHERE {' AND '.join(clauses)} "
        f"ORDER BY invite_at DESC, call_id DESC LIMIT {arg(limit + 1)}"
    )
    rows = [dict(r) for r in await conn.fetch(sql, *args)]
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["invite_at"], rows[-1]["call_id"])
    return rows, next_cursor


_OF_TENANT = "($2::text IS NULL OR tenant = $2)"


async def get_call(conn: Connection, call_id: str, tenant: str | None) -> dict[str, Any] | None:
    """The call row with its transcript, playbacks and DTMF, or None (also when another tenant's)."""
    row = await conn.fetchrow(
        f"SELECT {', '.join(CALL_COLUMNS)} FROM calls WHERE call_id = $1 AND {_OF_TENANT}", call_id, tenant
    )
    if row is None:
        return None
    call = dict(row)
    call["transcript"] = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {', '.join(TURN_COLUMNS)} FROM transcript_turns WHERE call_id = $1 "
            "ORDER BY at NULLS LAST, turn_id",
            call_id,
        )
    ]
    call["playbacks"] = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {', '.join(PLAYBACK_COLUMNS)} FROM playbacks WHERE call_id = $1 "
            "ORDER BY started_at NULLS LAST, playback_id",
            call_id,
        )
    ]
    call["dtmf"] = [
        dict(r)
        for r in await conn.fetch(
            f"SELECT {', '.join(DTMF_COLUMNS)} FROM dtmf WHERE call_id = $1 ORDER BY at, seq", call_id
        )
    ]
    return call


async def call_position(conn: Connection, call_id: str, tenant: str | None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT call_id, log_topic, log_partition, first_offset, last_offset, invite_at, finished_at, "
        f"tenant FROM calls WHERE call_id = $1 AND {_OF_TENANT}",
        call_id,
        tenant,
    )


async def recording_uri(conn: Connection, call_id: str, tenant: str | None) -> tuple[bool, str | None]:
    """(call exists in the tenant, its recording URI)."""
    row = await conn.fetchrow(
        f"SELECT recording_uri FROM calls WHERE call_id = $1 AND {_OF_TENANT}", call_id, tenant
    )
    return (row is not None, row["recording_uri"] if row else None)
