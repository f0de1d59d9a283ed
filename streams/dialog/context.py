"""A call's context: who is calling and what the call has learnt so far, for agent actions. Pure.

The context is a fold of the call's facts, so a replay rebuilds it exactly:

- `DialplanResolved` (the edge, before the greeting): the caller id, and for a known caller the
  contact's (or SIP user's) name, language and profile fields (`edge.uas.callerid`);
- `ActionRequested`: the arguments given to an action (the caller's earlier answers in this call);
- `CallContextUpdated`: values an action's result wrote back (`{"context": {"name": "Bob"}}`), which
  replace earlier ones of the same name; a written `name` is how prompts and actions call the caller
  from then on.

The dialog-engine worker keeps it per call (a table, JSON), sends it with every action request
(`as_request`), fills action slots from it (`slot_values`, `streams.engines.actions.known_slots`) and
lets action texts name its values (`lookup`: `{context.name}`). The write-back's values are wire
text from an endpoint: names are checked, values made safe and bounded (`written_values`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from schemas import models as m
from schemas.wiretext import safe_text

MAX_VALUES: Final = 32
"""At most this many values written back by one result, and kept per call."""
MAX_VALUE_CHARS: Final = 200
NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,39}")


def context_values(raw: str | None) -> dict[str, str]:
    """A JSON object of strings (a fact's `profile` or `values`) as a dict; anything else is empty."""
    try:
        obj = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(obj, dict):
        return {}
    scalar = (str, int, float)
    return {str(k): str(v) for k, v in obj.items() if isinstance(v, scalar) and not isinstance(v, bool)}


def written_values(result: Any) -> dict[str, str]:
    """What an action's JSON result writes back: its `context` object's names (lower-case words) with
    scalar values, made safe and bounded; everything else in it is ignored."""
    if not isinstance(result, dict) or not isinstance(result.get("context"), dict):
        return {}
    out: dict[str, str] = {}
    for name, value in result["context"].items():
        if len(out) >= MAX_VALUES:
            break
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        text = safe_text(str(value), MAX_VALUE_CHARS).strip()
        if text:
            out[name] = text
    return out


@dataclass(frozen=True, slots=True)
class CallContext:
    caller: str | None = None
    matched_by: str = "none"
    contact_id: str | None = None
    name: str | None = None
    """The configured name; `values["name"]`, when an action wrote one, wins (`display_name`)."""
    language: str | None = None
    profile: Mapping[str, str] = field(default_factory=dict)
    answers: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, str] = field(default_factory=dict)
    knowledge: tuple[str, ...] = ()
    """Knowledge entry ids this call's agent answers from (an outbound call's request); (): all."""

    @property
    def display_name(self) -> str | None:
        return self.values.get("name") or self.name

    def apply(self, fact: Any) -> CallContext:
        """The context after `fact` (itself when the fact says nothing about it)."""
        if isinstance(fact, m.DialplanResolved):
            return replace(
                self, caller=fact.caller, matched_by=fact.caller_matched_by,
                contact_id=fact.caller_contact_id, name=fact.caller_name, language=fact.caller_language,
                profile=context_values(fact.caller_profile), knowledge=tuple(fact.knowledge),
            )  # fmt: skip
        if isinstance(fact, m.ActionRequested):
            given = {k: v for k, v in context_values(fact.arguments).items() if NAME_RE.fullmatch(k)}
            return replace(self, answers=_bounded({**self.answers, **given})) if given else self
        if isinstance(fact, m.CallContextUpdated):
            written = context_values(fact.values)
            return replace(self, values=_bounded({**self.values, **written})) if written else self
        return self

    def chosen(self, entries: Sequence[m.KnowledgeEntry]) -> Sequence[m.KnowledgeEntry]:
        """The knowledge entries this call may use: the ones it names, else all of them (also when none
        of the named ones exists any more: the agent still answers rather than knowing nothing)."""
        if not self.knowledge:
            return entries
        ids = set(self.knowledge)
        named = [e for e in entries if e.entity_id in ids]
        return named or entries

    def as_request(self) -> dict[str, Any]:
        """The `context` object of an action request."""
        return {
            "caller": self.caller,
            "known": self.matched_by != "none",
            "contact_id": self.contact_id,
            "name": self.display_name,
            "language": self.language,
            "profile": dict(self.profile),
            "answers": dict(self.answers),
            "values": dict(self.values),
        }

    def lookup(self) -> dict[str, str]:
        """Every named value, as `{context.<name>}` in action texts and slot filling see them: profile
        fields, then earlier answers, then written values, the name last (each over the one before)."""
        out = {**self.profile, **self.answers, **self.values}
        if self.caller:
            out.setdefault("caller", self.caller)
        if self.display_name:
            out["name"] = self.display_name
        return out

    def prompt_facts(self) -> dict[str, Any]:
        """What an LLM's prompt is told about the call (`streams.engines.openai_chat.context_message`,
        which marks it as data): the caller's number, whether they are known, their name, language and
        profile, earlier answers and written values; empty ones left out."""
        facts: dict[str, Any] = {"caller": self.caller, "known_caller": self.matched_by != "none",
                                 "name": self.display_name, "language": self.language,
                                 "profile": dict(self.profile), "earlier_answers": dict(self.answers),
                                 "values": dict(self.values)}  # fmt: skip
        if not self.caller and facts["known_caller"] is False:
            del facts["known_caller"]  # nothing is known of the call at all
        return {k: v for k, v in facts.items() if v or v is False}

    def slot_values(self) -> dict[str, str]:
        """What may fill a new action's slots: profile fields and written values, and the name — not
        earlier answers (a second booking is not for the first one's date)."""
        out = {**self.profile, **self.values}
        if self.display_name:
            out["name"] = self.display_name
        return out

    def to_json(self) -> bytes:
        return json.dumps(
            {"caller": self.caller, "matched_by": self.matched_by, "contact_id": self.contact_id,
             "name": self.name, "language": self.language, "profile": dict(self.profile),
             "answers": dict(self.answers), "values": dict(self.values), "knowledge": list(self.knowledge)},
            sort_keys=True, separators=(",", ":"),
        ).encode()  # fmt: skip

    @classmethod
    def from_json(cls, raw: bytes | None) -> CallContext:
        """The stored context; unreadable or missing: an empty one (the call goes on without it)."""
        if not raw:
            return cls()
        try:
            obj = json.loads(raw)
            return cls(
                caller=obj.get("caller"), matched_by=str(obj.get("matched_by") or "none"),
                contact_id=obj.get("contact_id"), name=obj.get("name"), language=obj.get("language"),
                profile=_strings(obj.get("profile")), answers=_strings(obj.get("answers")),
                values=_strings(obj.get("values")),
                knowledge=tuple(str(k) for k in obj.get("knowledge") or () if isinstance(k, str)),
            )  # fmt: skip
        except (ValueError, TypeError, AttributeError):
            return cls()


def _strings(obj: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in obj.items()} if isinstance(obj, dict) else {}


def _bounded(values: dict[str, str]) -> dict[str, str]:
    """The newest `MAX_VALUES` values (dicts keep insertion order; a rewrite moves a name last)."""
    return dict(list(values.items())[-MAX_VALUES:])
