"""The per-call dialog agent: decode a call fact, run the reducer, emit its decisions.

`step` is the whole adapter logic and is pure given `now`: stored table value + fact bytes in, the
new table value and the messages to produce out. The Faust agent around it only reads and writes its
table and sends. The table value is JSON: the dialog state plus the armed timer's wall-clock deadline
(the reducer knows timers only by name and number; the deadline is the agent's business).

Timers: `due_timers` scans the table for deadlines that passed; the app's timer coroutine produces a
`DialogTimerFired` for each onto the call topic, where it is ordered with the call's other facts and
reaches the reducer like any fact. Its event id derives from the call and the timer's number, so a
timer fired twice (after a restart) is one fact to the reducer.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from schemas import models as m
from schemas.codec import CodecError, decode, encode
from sentiric.eventlog.topics import CALLS, commands_topic
from streams.dialog.decisions import ArmTimer, CancelTimer, DropState, Record, Send
from streams.dialog.machine import IllegalTransition, Policy, decide, derived_event_id, new_state
from streams.dialog.state import DialogState, StateError
from streams.skip import ended_marker, is_ended

log = structlog.get_logger("sentiric.streams.dialog")


@dataclass(frozen=True, slots=True)
class Stored:
    state: DialogState
    deadline: float | None = None

    def __bytes__(self) -> bytes:
        return json.dumps({"state": self.state.to_json(), "deadline": self.deadline}, sort_keys=True).encode()

    @classmethod
    def parse(cls, data: bytes) -> Stored:
        try:
            obj = json.loads(data)
            return cls(DialogState.from_json(obj["state"]), obj.get("deadline"))
        except (ValueError, KeyError, TypeError) as exc:
            raise StateError(f"invalid stored dialog: {exc}") from None


@dataclass(slots=True)
class Outcome:
    """What one fact asks of the agent."""

    stored: Stored | bytes | None = None
    """The new table value (a `Stored`, or an ended marker: `streams.skip`); None with `changed`
    means delete the entry."""
    changed: bool = False
    messages: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    """(topic, key, value) to produce, in order."""


def step(raw_stored: bytes | None, key: bytes, value: bytes, policy: Policy, now: float) -> Outcome:
    """Apply one message of the call topic to the stored dialog of its call."""
    try:
        fact = decode(value)
    except CodecError as exc:
        log.warning("undecodable message dropped", topic=CALLS, error=str(exc))
        return Outcome()
    if not isinstance(fact, m.Fact):
        log.warning("not a call fact; dropped", record=type(fact).__name__, topic=CALLS)
        return Outcome()
    if is_ended(raw_stored):
        return Outcome()  # the call is over: a late or redelivered fact changes nothing
    stored = Stored(new_state(fact.call_id))
    if raw_stored is not None:
        try:
            stored = Stored.parse(raw_stored)
        except StateError as exc:
            log.error("stored dialog unreadable, starting afresh", call_id=fact.call_id, error=str(exc))
    try:
        state, decisions = decide(stored.state, fact, policy)
    except IllegalTransition as exc:
        log.warning("illegal transition ignored", call_id=fact.call_id, error=str(exc))
        return Outcome()
    if state is stored.state and not decisions:
        return Outcome()
    out = Outcome(changed=True)
    deadline = stored.deadline
    for decision in decisions:
        if isinstance(decision, Send):
            out.messages.append((commands_topic(decision.node), key, encode(decision.command)))
        elif isinstance(decision, Record):
            out.messages.append((CALLS, key, encode(decision.fact)))
        elif isinstance(decision, ArmTimer):
            deadline = now + decision.delay_s
        elif isinstance(decision, CancelTimer):
            deadline = None
        elif isinstance(decision, DropState):
            if isinstance(fact, m.CallEnded):  # the speech agents skip this call's work from now on
                out.stored = ended_marker(now)
            return out  # else stored stays None: delete
    out.stored = Stored(state, deadline)
    return out


def timer_source(policy: Policy) -> str:
    return f"{policy.source}-timer"


def due_timers(
    entries: Iterator[tuple[Any, bytes]], now: float, policy: Policy
) -> Iterator[tuple[bytes, uuid.UUID, bytes]]:
    """(key, event id, DialogTimerFired bytes) for every stored dialog whose timer deadline has passed."""
    for key, raw in entries:
        if is_ended(raw):
            continue
        try:
            stored = Stored.parse(raw)
        except StateError:
            continue
        timer = stored.state.timer
        if stored.deadline is None or timer is None or stored.deadline > now:
            continue
        call_id = stored.state.call_id
        source = timer_source(policy)
        fired = m.DialogTimerFired(
            event_id=derived_event_id(call_id, source, timer.armed_seq),
            call_id=call_id,
            seq=timer.armed_seq,
            occurred_at=datetime.fromtimestamp(now, UTC),
            source=source,
            trace_id=stored.state.trace_id or call_id,
            tenant=stored.state.tenant,
            timer=str(timer.name),
            armed_seq=timer.armed_seq,
        )
        yield (key if isinstance(key, bytes) else str(key).encode()), fired.event_id, encode(fired)
