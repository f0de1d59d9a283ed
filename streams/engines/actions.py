"""Agent actions in the embedded engine: intent, slot filling over turns, confirmation. Pure.

`advance(pending, text, today, actions)` takes the call's pending action (None when none) and the
caller's words, and returns what to do next:

- `None`: not an action turn; the knowledge engine (or the LLM) answers as usual;
- `Say`: a question or an answer, with the new pending action (None when it is over): which slot is
  missing ("What name should I put the booking under?"), the confirmation ("Shall I book ... ?"), or
  "Okay, I won't ..." after a no;
- `Run`: the caller said yes; the worker calls the endpoint (`streams.agents.actions`) and says
  `done_text(...)` or `failed_text(...)`.

An action starts when all the content words of one of its triggers are among the caller's words
("I would like to book a service tomorrow at ten" has those of "book a service"). Its slots are the
properties of its `parameters` JSON Schema, filled from every caller turn (`streams.dialog.slots`),
asked for in the schema's order when `required` and missing; a property's kind is its `format`
(`date`, `time`) or its name (`date`, `time`, `*name*`), any other is free text taken whole when it is
the one asked. A property may carry `x-ask`, the question the agent asks for it. The agent asks at
most `MAX_ASKS` times in a row for one slot before giving up aloud.

The call's context (`streams.dialog.context.CallContext.lookup`: the caller's profile, earlier answers,
values actions wrote back) fills a slot of the same name when the action starts, and a `name` slot
from the caller's known name, so a known caller is not asked who they are; the caller's own words
still override it. Confirmation and done texts may name context values as `{context.<name>}`.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final

from schemas.models import Action
from streams.dialog import slots as sl

MAX_ASKS: Final = 3
TRIGGER_STOP_WORDS: Final = frozenset(
    "a an the to my me i i'd i'm would like want for in on at please".split()
)


@dataclass(frozen=True, slots=True)
class Pending:
    """A call's action in progress: stored per call by the worker as JSON."""

    action: str
    slots: Mapping[str, str] = field(default_factory=dict)
    asked: str | None = None
    confirming: bool = False
    asks: int = 0

    def to_json(self) -> bytes:
        return json.dumps(
            {"action": self.action, "slots": dict(self.slots), "asked": self.asked,
             "confirming": self.confirming, "asks": self.asks},
            sort_keys=True,
        ).encode()  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes | None) -> Pending | None:
        if not raw:
            return None
        try:
            obj = json.loads(raw)
            return cls(
                str(obj["action"]), {str(k): str(v) for k, v in obj["slots"].items()}, obj.get("asked"),
                bool(obj.get("confirming")), int(obj.get("asks", 0)),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


@dataclass(frozen=True, slots=True)
class Say:
    text: str
    intent: str
    pending: Pending | None


@dataclass(frozen=True, slots=True)
class Run:
    action: Action
    arguments: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Slot:
    name: str
    kind: str  # "date", "time", "name" or "text"
    required: bool
    ask: str


def slots_of(action: Action) -> list[Slot]:
    """The slots of an action, in its schema's order (an unreadable schema has none)."""
    try:
        schema = json.loads(action.parameters)
        props: dict[str, Any] = schema["properties"]
        required = set(schema.get("required", ()))
    except (ValueError, KeyError, TypeError):
        return []
    out = []
    for name, prop in props.items():
        prop = prop if isinstance(prop, dict) else {}
        kind = str(prop.get("format") or "")
        if kind not in ("date", "time"):
            kind = name if name in ("date", "time") else "name" if "name" in name.lower() else "text"
        ask = prop.get("x-ask") or f"What {prop.get('description') or name.replace('_', ' ')} should I use?"
        out.append(Slot(name, kind, name in required, str(ask)))
    return out


def _content(text: str) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in sl.words(text)} - TRIGGER_STOP_WORDS


def triggered(text: str, actions: Sequence[Action]) -> Action | None:
    said = _content(text)
    for action in actions:
        if action.enabled and any(_content(t) and _content(t) <= said for t in action.triggers):
            return action
    return None


def _value(slot: Slot, text: str, today: date, asked: bool) -> str | None:
    if slot.kind == "date":
        return sl.parse_date(text, today)
    if slot.kind == "time":
        return sl.parse_time(text, asked=asked)
    if slot.kind == "name":
        return sl.parse_name(text, asked=asked)
    cleaned = text.strip().strip(".!?")
    return cleaned[:200] if asked and cleaned else None


def fill(
    action: Action, current: Mapping[str, str], text: str, today: date, asked: str | None
) -> dict[str, str]:
    """`current` with what `text` says; the slot just asked for may take a bare answer."""
    out = dict(current)
    for slot in slots_of(action):
        value = _value(slot, text, today, asked=slot.name == asked)
        if value is not None:
            out[slot.name] = value
    return out


def spoken(action: Action, values: Mapping[str, str], today: date) -> dict[str, str]:
    """Slot values as the agent says them (dates and times in words)."""
    kinds = {s.name: s.kind for s in slots_of(action)}
    out = {}
    for name, value in values.items():
        try:
            if kinds.get(name) == "date":
                value = sl.spoken_date(value, today)
            elif kinds.get(name) == "time":
                value = sl.spoken_time(value)
        except ValueError:
            pass  # shown as given
        out[name] = value
    return out


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class _Context:
    """`{context.<name>}` in a text: the call context's value, blank when it has none."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> str:
        return self._values.get(name, "")

    def __format__(self, spec: str) -> str:
        return ""  # `{context}` alone says nothing


def known_slots(action: Action, context: Mapping[str, str]) -> dict[str, str]:
    """The action's slots the call's context already answers: same name, or a name slot and the
    caller's known name."""
    out = {}
    for slot in slots_of(action):
        value = context.get(slot.name) or (context.get("name") if slot.kind == "name" else None)
        if value:
            out[slot.name] = value
    return out


def render(template: str, values: Mapping[str, Any], context: Mapping[str, str] | None = None) -> str:
    """`template` with `{name}` and `{context.<name>}` placeholders filled; unknown ones blank, bad
    templates as written."""
    try:
        filled = _Blank(values)
        filled["context"] = _Context(context or {})
        return string.Formatter().vformat(template, (), filled).strip()
    except (ValueError, IndexError, AttributeError, KeyError):
        return template


def confirm_text(
    action: Action, values: Mapping[str, str], today: date, context: Mapping[str, str] | None = None
) -> str:
    words = spoken(action, values, today)
    if action.confirm_text:
        return render(action.confirm_text, words, context)
    listed = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in words.items())
    return f"Shall I {action.description} with {listed}?"


def _next(
    action: Action,
    values: dict[str, str],
    today: date,
    asks: int,
    again: bool = False,
    context: Mapping[str, str] | None = None,
) -> Say:
    for slot in slots_of(action):
        if slot.required and slot.name not in values:
            if asks >= MAX_ASKS:
                return Say(
                    f"Sorry, I couldn't get the {slot.name.replace('_', ' ')}. Let's leave that for now. "
                    "What else can I help with?",
                    f"action:{action.entity_id}:gave-up", None,
                )  # fmt: skip
            prefix = "Sorry, I didn't catch that. " if again else ""
            pending = Pending(action.entity_id, values, slot.name, False, asks + 1)
            return Say(prefix + slot.ask, f"action:{action.entity_id}:ask:{slot.name}", pending)
    pending = Pending(action.entity_id, values, None, True, 0)
    return Say(confirm_text(action, values, today, context), f"action:{action.entity_id}:confirm", pending)


def advance(
    pending: Pending | None,
    text: str,
    today: date,
    actions: Sequence[Action],
    known: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
) -> Say | Run | None:
    """The next step of the call's action conversation (see the module doc). `known`: what may fill a
    new action's slots (`CallContext.slot_values`); `context`: what texts may name
    (`CallContext.lookup`)."""
    if pending is None:
        action = triggered(text, actions)
        if action is None:
            return None
        start = known_slots(action, known or {})
        return _next(action, fill(action, start, text, today, None), today, 0, context=context)
    action = next((a for a in actions if a.entity_id == pending.action and a.enabled), None)
    if action is None:
        return None  # removed or disabled meanwhile: the caller's words go to the knowledge engine
    if sl.is_cancel(text):
        return Say(
            "Okay, I've cancelled that. What else can I help with?",
            f"action:{action.entity_id}:cancelled",
            None,
        )
    values = fill(action, pending.slots, text, today, pending.asked)
    if pending.confirming:
        if values != dict(pending.slots):  # "no, at eleven": confirm the corrected request
            return _next(action, values, today, 0, context=context)
        if sl.is_yes(text):
            return Run(action, values)
        if sl.is_no(text):
            return Say(
                f"Okay, I won't {action.description}. What else can I help with?",
                f"action:{action.entity_id}:declined", None,
            )  # fmt: skip
        if pending.asks >= MAX_ASKS:
            return Say(
                "Sorry, let's leave that for now. What else can I help with?",
                f"action:{action.entity_id}:gave-up",
                None,
            )
        again = replace(pending, asks=pending.asks + 1)
        return Say("Sorry, was that a yes or a no? " + confirm_text(action, values, today, context),
                   f"action:{action.entity_id}:confirm", again)  # fmt: skip
    gave_asked = pending.asked is not None and pending.asked in values and pending.asked not in pending.slots
    asks = 0 if gave_asked else pending.asks
    return _next(action, values, today, asks, again=not gave_asked, context=context)


def done_text(
    action: Action,
    arguments: Mapping[str, str],
    result: Any,
    today: date,
    context: Mapping[str, str] | None = None,
) -> str:
    values: dict[str, Any] = {}
    if isinstance(result, dict):
        values.update({k: v for k, v in result.items() if isinstance(v, str | int | float)})
    values.update(spoken(action, arguments, today))  # the slots as said, over the endpoint's echo of them
    if action.done_text:
        return render(action.done_text, values, context)
    message = result.get("message") if isinstance(result, dict) else None
    return str(message) if message else "Done. Is there anything else I can help with?"


def failed_text(action: Action) -> str:
    """The spoken fallback of a failed or slow action: an apology and an alternative, never silence."""
    if action.fallback_text:
        return action.fallback_text
    return (
        f"I'm sorry, I can't {action.description} right now. Please try again in a little while, "
        "or ask me about something else."
    )
