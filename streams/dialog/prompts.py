"""What the dialog says by itself (greeting, reprompt, goodbyes, apology), per language.

Texts come from `Prompt` config records with a `kind` (the API's `/admin/prompts`), chosen by the call's
primary language; where none is configured, the built-in texts below (English and Turkish) speak, and
English is the last resort. `PromptBook` is immutable and part of the reducer's `Policy`: replaying a
call with another book gives other words, as replaying with another policy always did.

A text may name the caller: `{caller_name}` is replaced by the name configuration knows them by (a
`Contact` or a SIP user's display name, on `DialplanResolved`; or a name an action wrote back,
`CallContextUpdated`). For an unknown caller the placeholder goes, with the space before it, so
"Hello {caller_name}, thank you" reads "Hello, thank you". The From header's display name never
fills it: it is whatever the caller's phone chose to send.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

from streams.dialog.language import primary_language

KINDS: Final = (
    "greeting", "reprompt", "goodbye_no_input", "goodbye_dtmf", "sorry",
    "handoff_hold", "handoff_unavailable", "handoff_failed",
)  # fmt: skip

BUILT_IN: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {
        "en": {
            "greeting": "Hello {caller_name}, thank you for calling. How can I help you?",
            "reprompt": "Sorry, I didn't hear anything. How can I help you?",
            "goodbye_no_input": "I still can't hear you. Please call again later. Goodbye.",
            "goodbye_dtmf": "Thank you for calling. Goodbye.",
            "sorry": "Sorry, I'm having trouble answering right now. Could you say that again?",
            "handoff_hold": "Please hold while I connect you to a colleague.",
            "handoff_unavailable": "I'm sorry, there is nobody available to take your call right now. "
            "Is there anything else I can help with?",
            "handoff_failed": "I'm sorry, I couldn't connect you. Is there anything else I can help with?",
        },
        "tr": {
            "greeting": "Merhaba {caller_name}, aradığınız için teşekkürler. Size nasıl yardımcı olabilirim?",
            "reprompt": "Özür dilerim, sizi duyamadım. Size nasıl yardımcı olabilirim?",
            "goodbye_no_input": "Sizi hâlâ duyamıyorum. Lütfen daha sonra tekrar arayın. Hoşça kalın.",
            "goodbye_dtmf": "Aradığınız için teşekkürler. Hoşça kalın.",
            "sorry": "Özür dilerim, şu anda yanıt vermekte zorlanıyorum. Tekrar söyler misiniz?",
            "handoff_hold": "Lütfen hatta kalın, sizi bir arkadaşıma bağlıyorum.",
            "handoff_unavailable": "Üzgünüm, şu anda görüşmenizi alabilecek kimse yok. "
            "Size başka nasıl yardımcı olabilirim?",
            "handoff_failed": "Üzgünüm, sizi bağlayamadım. Size başka nasıl yardımcı olabilirim?",
        },
    }
)

CALLER_NAME: Final = "{caller_name}"
MAX_NAME_CHARS: Final = 60
"""A configured name longer than this is cut: it is spoken, not a profile."""

PromptBook = Mapping[tuple[str, str], str]
"""(primary language, kind) → text: the configured prompts."""

EMPTY_BOOK: Final[PromptBook] = MappingProxyType({})


def prompt_text(book: PromptBook, kind: str, language: str, english: Mapping[str, str]) -> str:
    """The `kind` prompt for a call in `language`: configured, else built in, else `english`'s."""
    lang = primary_language(language)
    configured = book.get((lang, kind))
    if configured:
        return configured
    built_in = BUILT_IN.get(lang, {}).get(kind)
    if built_in and lang != "en":
        return built_in
    return english[kind]


def book_of(records: Iterable[Any]) -> PromptBook:
    """The book of `Prompt` config records: those with a known kind and a text; for one (language,
    kind) the record with the smallest entity id wins, so the choice does not depend on arrival."""
    chosen: dict[tuple[str, str], tuple[str, str]] = {}
    for r in records:
        kind, text = getattr(r, "kind", None), getattr(r, "text", None)
        if kind not in KINDS or not text or not text.strip():
            continue
        key = (primary_language(r.language), kind)
        if key not in chosen or r.entity_id < chosen[key][0]:
            chosen[key] = (r.entity_id, text)
    return MappingProxyType({k: v for k, (_, v) in chosen.items()})


def with_caller(text: str, caller_name: str | None) -> str:
    """`text` with `{caller_name}` filled in, or removed (with the space before it) when unknown.

    Only this placeholder is replaced; other braces stay as written (a prompt is no template language)."""
    if CALLER_NAME not in text:
        return text
    name = " ".join((caller_name or "").split())[:MAX_NAME_CHARS].strip()
    if not name:
        return text.replace(" " + CALLER_NAME, "").replace(CALLER_NAME, "")
    return text.replace(CALLER_NAME, name)
