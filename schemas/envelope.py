"""The common envelope every call record carries, and the per-call sequence numbers producers stamp."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TypedDict


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_call_id() -> str:
    return str(uuid.uuid4())


DEFAULT_TENANT = "default"
"""The tenant of a record that names none: every record written before tenants existed decodes into it."""


class Envelope(TypedDict):
    """The fields every call record carries (the six it starts with and its last, ``tenant``), typed:
    unpacked into a model's constructor, the type checker checks them and every other field named
    beside them (a misspelt one is an error)."""

    event_id: uuid.UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    tenant: str


def envelope(
    call_id: str,
    *,
    seq: int,
    source: str,
    trace_id: str | None = None,
    occurred_at: datetime | None = None,
    tenant: str = DEFAULT_TENANT,
) -> Envelope:
    """Envelope fields as keyword arguments for a model: `CallEnded(**envelope(...), reason=...)`."""
    return {
        "event_id": uuid.uuid4(),
        "call_id": call_id,
        "seq": seq,
        "occurred_at": occurred_at or utc_now(),
        "source": source,
        "trace_id": trace_id or call_id,
        "tenant": tenant,
    }


class CallSequencer:
    """Per-call monotonically increasing `seq`, owned by one producing node.

    Bounded: `forget(call_id)` when the call's last record is produced.
    """

    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next: dict[str, int] = {}

    def next(self, call_id: str) -> int:
        seq = self._next.get(call_id, 0) + 1
        self._next[call_id] = seq
        return seq

    def forget(self, call_id: str) -> None:
        self._next.pop(call_id, None)

    def __len__(self) -> int:
        return len(self._next)
