"""Re-run the dialog state machine over a recorded call and diff its decisions against the record.

Input: the call's records in log order (its facts from `sentiric.calls` merged with its commands
from the edge's command topic, e.g. `sentiric.eventlog.consumer.read_call`). The facts the machine
did not make are its inputs; the records it made (source `policy.source`: `DialogStateChanged`,
the prompts it said as `AgentReplied`, DTMF input as `UtteranceTranscribed`, and every command) are
what it decided. `decide` is deterministic and numbers its records, so the re-run's record number
`seq` lines up with the recorded one; a difference is a record missing from the re-run, one the
re-run adds, or one whose fields changed (audio compared by length and SHA-256).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from schemas import models as m
from streams.dialog.decisions import Record, Send
from streams.dialog.machine import DEFAULT_POLICY, IllegalTransition, Policy, decide, new_state

Kind = Literal["missing", "unexpected", "changed"]


@dataclass(frozen=True, slots=True)
class Difference:
    seq: int
    kind: Kind
    record_type: str
    fields: tuple[tuple[str, Any, Any], ...] = ()
    """For `changed`: (field, recorded, re-run)."""

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"#{self.seq} {self.record_type}: recorded, but the re-run does not make it"
        if self.kind == "unexpected":
            return f"#{self.seq} {self.record_type}: made by the re-run, not in the record"
        changes = "; ".join(f"{name}: {old!r} → {new!r}" for name, old, new in self.fields)
        return f"#{self.seq} {self.record_type} changed: {changes}"


def _comparable(record: Any) -> dict[str, Any]:
    out = {}
    for name, value in record.to_record().items():
        if isinstance(value, bytes):
            value = f"{len(value)} bytes sha256:{hashlib.sha256(value).hexdigest()[:16]}"
        out[name] = value
    return out


def rerun(facts: Iterable[Any], policy: Policy = DEFAULT_POLICY) -> tuple[list[Any], list[Any]]:
    """(the recorded decisions, the re-run's decisions), each a list of records."""
    recorded: dict[Any, Any] = {}
    state = None
    made: list[Any] = []
    for record in facts:
        if record.source == policy.source or isinstance(record, m.Command):
            recorded.setdefault(record.event_id, record)  # a redelivered duplicate is one record
            continue
        if state is None:
            state = new_state(record.call_id)
        try:
            state, decisions = decide(state, record, policy)
        except IllegalTransition:
            continue
        made += [
            d.fact if isinstance(d, Record) else d.command for d in decisions if isinstance(d, Record | Send)
        ]
    return list(recorded.values()), made


def replay_dialog(facts: Iterable[Any], policy: Policy = DEFAULT_POLICY) -> list[Difference]:
    recorded, made = rerun(facts, policy)
    by_seq_recorded = {r.seq: r for r in recorded}
    by_seq_made = {r.seq: r for r in made}
    out: list[Difference] = []
    for seq in sorted(by_seq_recorded.keys() | by_seq_made.keys()):
        old, new = by_seq_recorded.get(seq), by_seq_made.get(seq)
        if new is None:
            out.append(Difference(seq, "missing", type(old).__name__))
        elif old is None:
            out.append(Difference(seq, "unexpected", type(new).__name__))
        elif type(old) is not type(new):
            out.append(Difference(seq, "changed", type(old).__name__,
                                  (("type", type(old).__name__, type(new).__name__),)))  # fmt: skip
        else:
            a, b = _comparable(old), _comparable(new)
            changed = tuple((k, a[k], b[k]) for k in a if a[k] != b[k])
            if changed:
                out.append(Difference(seq, "changed", type(old).__name__, changed))
    return out
