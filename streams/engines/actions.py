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

The caller's words are read in the call's language (`language`, a BCP 47 tag; `SlotLanguage`):
English (`streams.dialog.slots`) or Turkish (`streams.dialog.slots_tr`: "yarın saat onda", "adım
Ayşe Yılmaz", "evet"), and so are the agent's own texts (questions without an `x-ask`, the generic
confirmation, "okay, cancelled", the fallback without a `fallback_text`) and slot values as said
("yarın, 7 Aralık Pazartesi"). When some actions are in the call's language, only those are offered
(`streams.dialog.language.for_language`; none: all of them); the texts an admin wrote are said as
written.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final

from schemas.models import Action
from streams.dialog import slots as sl
from streams.dialog import slots_tr
from streams.dialog.language import for_language, primary_language
from streams.engines import turkish

MAX_ASKS: Final = 3
TRIGGER_STOP_WORDS: Final = frozenset(
    "a an the to my me i i'd i'm would like want for in on at please".split()
)


@dataclass(frozen=True, slots=True)
class Texts:
    """The agent's own words around an action, in one language (`str.format` fields in braces)."""

    ask: str  # {label}
    again: str
    gave_up_slot: str  # {key} (the slot's name), {label} (its description)
    confirm: str  # {description}, {listed}
    listed_item: str  # {key}, {label}, {value}
    cancelled: str
    declined: str  # {description}
    gave_up: str
    yes_or_no: str
    done: str
    failed: str  # {description}


@dataclass(frozen=True, slots=True)
class SlotLanguage:
    """How the caller's words are read and the agent's own words said in one language."""

    parse_date: Callable[[str, date], str | None]
    parse_time: Callable[..., str | None]
    parse_name: Callable[..., str | None]
    is_yes: Callable[[str], bool]
    is_no: Callable[[str], bool]
    is_cancel: Callable[[str], bool]
    spoken_date: Callable[[str, date], str]
    spoken_time: Callable[[str], str]
    content: Callable[[str], set[str]]
    """The content words of a trigger or of what the caller said: an action starts when all of a
    trigger's are among the caller's."""
    texts: Texts


def _english_content(text: str) -> set[str]:
    return {w[:-1] if w.endswith("s") and len(w) > 3 else w for w in sl.words(text)} - TRIGGER_STOP_WORDS


ENGLISH: Final = SlotLanguage(
    sl.parse_date, sl.parse_time, sl.parse_name, sl.is_yes, sl.is_no, sl.is_cancel, sl.spoken_date,
    sl.spoken_time, _english_content,
    Texts(
        ask="What {label} should I use?",
        again="Sorry, I didn't catch that. ",
        gave_up_slot="Sorry, I couldn't get the {key}. Let's leave that for now. What else can I help "
        "with?",
        confirm="Shall I {description} with {listed}?",
        listed_item="{key} {value}",
        cancelled="Okay, I've cancelled that. What else can I help with?",
        declined="Okay, I won't {description}. What else can I help with?",
        gave_up="Sorry, let's leave that for now. What else can I help with?",
        yes_or_no="Sorry, was that a yes or a no? ",
        done="Done. Is there anything else I can help with?",
        failed="I'm sorry, I can't {description} right now. Please try again in a little while, "
        "or ask me about something else.",
    ),
)  # fmt: skip
TURKISH: Final = SlotLanguage(
    slots_tr.parse_date, slots_tr.parse_time, slots_tr.parse_name, slots_tr.is_yes, slots_tr.is_no,
    slots_tr.is_cancel, slots_tr.spoken_date, slots_tr.spoken_time, lambda text: set(turkish.analyze(text)),
    Texts(
        ask="{label} ne olsun?",
        again="Üzgünüm, anlayamadım. ",
        gave_up_slot="Üzgünüm, {label} bilgisini alamadım. Şimdilik bunu bırakalım. Başka nasıl yardımcı "
        "olabilirim?",
        confirm="{listed} için {description} işlemini yapayım mı?",
        listed_item="{label}: {value}",
        cancelled="Tamam, iptal ettim. Başka nasıl yardımcı olabilirim?",
        declined="Tamam, {description} işlemini yapmıyorum. Başka nasıl yardımcı olabilirim?",
        gave_up="Üzgünüm, şimdilik bunu bırakalım. Başka nasıl yardımcı olabilirim?",
        yes_or_no="Üzgünüm, evet mi hayır mı? ",
        done="Tamam, hallettim. Başka bir konuda yardımcı olabilir miyim?",
        failed="Üzgünüm, şu anda {description} işlemini yapamıyorum. Lütfen biraz sonra tekrar deneyin "
        "ya da başka bir konuda sorun.",
    ),
)  # fmt: skip
LANGUAGES: Final = {"en": ENGLISH, "tr": TURKISH}


def slot_language(language: str | None) -> SlotLanguage:
    """The call's language's (its primary subtag); English for any other."""
    return LANGUAGES.get(primary_language(language or "en"), ENGLISH)


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
    """The schema's `x-ask`; empty: the language's generic question about `label`."""
    label: str = ""
    """How the slot is named aloud: the schema's `description`, else its name."""


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
        label = str(prop.get("description") or name.replace("_", " "))
        out.append(Slot(name, kind, name in required, str(prop.get("x-ask") or ""), label))
    return out


def triggered(text: str, actions: Sequence[Action], lang: SlotLanguage = ENGLISH) -> Action | None:
    said = lang.content(text)
    for action in actions:
        if action.enabled and any(lang.content(t) and lang.content(t) <= said for t in action.triggers):
            return action
    return None


def _value(slot: Slot, text: str, today: date, asked: bool, lang: SlotLanguage) -> str | None:
    if slot.kind == "date":
        return lang.parse_date(text, today)
    if slot.kind == "time":
        return lang.parse_time(text, asked=asked)
    if slot.kind == "name":
        return lang.parse_name(text, asked=asked)
    cleaned = text.strip().strip(".!?")
    return cleaned[:200] if asked and cleaned else None


def fill(
    action: Action,
    current: Mapping[str, str],
    text: str,
    today: date,
    asked: str | None,
    lang: SlotLanguage = ENGLISH,
) -> dict[str, str]:
    """`current` with what `text` says; the slot just asked for may take a bare answer."""
    out = dict(current)
    for slot in slots_of(action):
        value = _value(slot, text, today, slot.name == asked, lang)
        if value is not None:
            out[slot.name] = value
    return out


def spoken(
    action: Action, values: Mapping[str, str], today: date, lang: SlotLanguage = ENGLISH
) -> dict[str, str]:
    """Slot values as the agent says them (dates and times in words)."""
    kinds = {s.name: s.kind for s in slots_of(action)}
    out = {}
    for name, value in values.items():
        try:
            if kinds.get(name) == "date":
                value = lang.spoken_date(value, today)
            elif kinds.get(name) == "time":
                value = lang.spoken_time(value)
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
    action: Action,
    values: Mapping[str, str],
    today: date,
    context: Mapping[str, str] | None = None,
    lang: SlotLanguage = ENGLISH,
) -> str:
    words = spoken(action, values, today, lang)
    if action.confirm_text:
        return render(action.confirm_text, words, context)
    labels = {s.name: s.label for s in slots_of(action)}
    listed = ", ".join(
        lang.texts.listed_item.format(key=k.replace("_", " "), label=labels.get(k, k), value=v)
        for k, v in words.items()
    )
    return lang.texts.confirm.format(description=action.description, listed=listed)


def _next(
    action: Action,
    values: dict[str, str],
    today: date,
    asks: int,
    again: bool = False,
    context: Mapping[str, str] | None = None,
    lang: SlotLanguage = ENGLISH,
) -> Say:
    for slot in slots_of(action):
        if slot.required and slot.name not in values:
            if asks >= MAX_ASKS:
                return Say(
                    lang.texts.gave_up_slot.format(key=slot.name.replace("_", " "), label=slot.label),
                    f"action:{action.entity_id}:gave-up", None,
                )  # fmt: skip
            prefix = lang.texts.again if again else ""
            pending = Pending(action.entity_id, values, slot.name, False, asks + 1)
            ask = slot.ask or lang.texts.ask.format(label=slot.label)
            return Say(prefix + ask, f"action:{action.entity_id}:ask:{slot.name}", pending)
    pending = Pending(action.entity_id, values, None, True, 0)
    said = confirm_text(action, values, today, context, lang)
    return Say(said, f"action:{action.entity_id}:confirm", pending)


def advance(
    pending: Pending | None,
    text: str,
    today: date,
    actions: Sequence[Action],
    known: Mapping[str, str] | None = None,
    context: Mapping[str, str] | None = None,
    language: str | None = None,
) -> Say | Run | None:
    """The next step of the call's action conversation (see the module doc). `known`: what may fill a
    new action's slots (`CallContext.slot_values`); `context`: what texts may name
    (`CallContext.lookup`); `language`: the call's (None: English)."""
    lang = slot_language(language)
    if pending is None:
        offered = for_language(actions, language) if language else actions
        action = triggered(text, offered, lang)
        if action is None:
            return None
        start = known_slots(action, known or {})
        filled = fill(action, start, text, today, None, lang)
        return _next(action, filled, today, 0, context=context, lang=lang)
    action = next((a for a in actions if a.entity_id == pending.action and a.enabled), None)
    if action is None:
        return None  # removed or disabled meanwhile: the caller's words go to the knowledge engine
    if lang.is_cancel(text):
        return Say(lang.texts.cancelled, f"action:{action.entity_id}:cancelled", None)
    values = fill(action, pending.slots, text, today, pending.asked, lang)
    if pending.confirming:
        if values != dict(pending.slots):  # "no, at eleven": confirm the corrected request
            return _next(action, values, today, 0, context=context, lang=lang)
        if lang.is_yes(text):
            return Run(action, values)
        if lang.is_no(text):
            return Say(
                lang.texts.declined.format(description=action.description),
                f"action:{action.entity_id}:declined", None,
            )  # fmt: skip
        if pending.asks >= MAX_ASKS:
            return Say(lang.texts.gave_up, f"action:{action.entity_id}:gave-up", None)
        again = replace(pending, asks=pending.asks + 1)
        return Say(lang.texts.yes_or_no + confirm_text(action, values, today, context, lang),
                   f"action:{action.entity_id}:confirm", again)  # fmt: skip
    gave_asked = pending.asked is not None and pending.asked in values and pending.asked not in pending.slots
    asks = 0 if gave_asked else pending.asks
    return _next(action, values, today, asks, again=not gave_asked, context=context, lang=lang)


def done_text(
    action: Action,
    arguments: Mapping[str, str],
    result: Any,
    today: date,
    context: Mapping[str, str] | None = None,
    language: str | None = None,
) -> str:
    lang = slot_language(language)
    values: dict[str, Any] = {}
    if isinstance(result, dict):
        values.update({k: v for k, v in result.items() if isinstance(v, str | int | float)})
    values.update(spoken(action, arguments, today, lang))  # the slots as said, over the endpoint's echo
    if action.done_text:
        return render(action.done_text, values, context)
    message = result.get("message") if isinstance(result, dict) else None
    return str(message) if message else lang.texts.done


def failed_text(action: Action, language: str | None = None) -> str:
    """The spoken fallback of a failed or slow action: an apology and an alternative, never silence."""
    if action.fallback_text:
        return action.fallback_text
    return slot_language(language).texts.failed.format(description=action.description)
