"""The CDR agent's logic: one call fact in, the call's detail record out. Pure: no I/O, no clock.

The fold is the projection's own (`projections.cdr.fold_call`), so the record a processor reads on
the compacted `sentiric.cdr` topic and the `calls` row in PostgreSQL are the same function of the
same facts. The agent keeps, per call, the row so far and the event ids already folded (the table
value, `StoredCdr`): a fact delivered twice — an upstream republish, or the agent reading again after
a restart because its offset commit trailed the table's changelog — is folded once.

Every call fact yields the call's current record, a duplicate included: the agent publishes it again
(the same bytes: a compacted topic keeps the latest, so nothing changes), which closes the one gap of
at-least-once processing — a table write that reached the changelog before the crash while its
record never reached `sentiric.cdr`.

Why PostgreSQL does NOT consume `sentiric.cdr` (it keeps folding the facts, projections.projector):
its exactly-once rests on storing the call topic's offsets in the same transaction as the rows, and
`replay rebuild` re-folds the call topic from offset 0 to a checksum; the turn, playback and DTMF
tables need the facts anyway. Faust's processing is at-least-once, so reading its output would add a
second delivery path and nothing PostgreSQL does not already have. Both sides fold the same facts with
the same function; the integration test checks that they agree field by field.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

from projections.cdr import CALL_FACTS, CallRow, LogPosition, fold_call
from schemas import models as m
from schemas.codec import CodecError, decode, encode

_LENGTH: Final = struct.Struct(">I")
_UUID_BYTES: Final = 16


def to_record(row: CallRow) -> m.CallDetailRecord:
    return m.CallDetailRecord(**{f.name: getattr(row, f.name) for f in dataclasses.fields(row)})


def to_row(record: m.CallDetailRecord) -> CallRow:
    return CallRow(**record.to_record())


@dataclass(frozen=True, slots=True)
class StoredCdr:
    """The table value: the call's row so far and the ids of the facts folded into it (in fold order).

    Bytes: 4-byte length, the row as an Avro `CallDetailRecord`, then 16 bytes per event id."""

    row: CallRow
    seen: tuple[UUID, ...] = ()

    def __bytes__(self) -> bytes:
        record = encode(to_record(self.row))
        return _LENGTH.pack(len(record)) + record + b"".join(u.bytes for u in self.seen)

    @classmethod
    def parse(cls, data: bytes) -> StoredCdr:
        try:
            (n,) = _LENGTH.unpack_from(data)
            record = decode(data[_LENGTH.size : _LENGTH.size + n])
            ids = data[_LENGTH.size + n :]
        except (struct.error, CodecError) as exc:
            raise ValueError(f"invalid stored CDR: {exc}") from None
        if not isinstance(record, m.CallDetailRecord) or len(ids) % _UUID_BYTES:
            raise ValueError("invalid stored CDR: not a CallDetailRecord and its event ids")
        seen = tuple(UUID(bytes=ids[i : i + _UUID_BYTES]) for i in range(0, len(ids), _UUID_BYTES))
        return cls(to_row(record), seen)

    def finished_before(self, cutoff_s: float) -> bool:
        """The call finished (ended, rejected or cancelled) before `cutoff_s`, seconds since the epoch."""
        at = self.row.finished_at
        return at is not None and at.timestamp() < cutoff_s


@dataclass(frozen=True, slots=True)
class CdrOutcome:
    record: m.CallDetailRecord
    """The call's record after the fact: publish it, keyed by call id."""
    stored: bytes | None
    """The new table value; None when the fact was a duplicate (the value stands)."""


def step(raw_stored: bytes | None, fact: Any, pos: LogPosition | None) -> CdrOutcome | None:
    """Fold one decoded message of the call topic into its call's stored CDR; None for a message that
    is not a call fact (nothing to publish). Raises ValueError on a corrupt stored value."""
    if not isinstance(fact, CALL_FACTS):
        return None
    stored = StoredCdr.parse(raw_stored) if raw_stored is not None else StoredCdr(CallRow(fact.call_id))
    if fact.event_id in stored.seen:
        return CdrOutcome(to_record(stored.row), None)
    row = fold_call(stored.row, fact, pos)
    return CdrOutcome(to_record(row), bytes(StoredCdr(row, (*stored.seen, fact.event_id))))
