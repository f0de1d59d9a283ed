"""The language of a call, and what it picks: pure functions, shared by the reducer and the workers.

A call's language is its dialplan's (`DialplanResolved.language`, a BCP 47 tag such as `tr-TR`), or
`auto`: then the caller's first words decide (Whisper's language detection, or `detect_text_language`
for typed text), and the call keeps that language from then on. Everything downstream compares primary
subtags only (`tr-TR`, `tr` and Whisper's `tr` are one language), so the tag can come from config or
from a detector alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Protocol, TypeVar

AUTO: Final = "auto"
"""The dialplan language that lets the caller's first utterance choose."""
AUTO_CANDIDATES: Final = ("en", "tr")
"""The languages `auto` chooses among: those the agent has prompts for (`streams.dialog.prompts`).
A detector free to pick any of Whisper's 99 hears espeak-ng's Turkish as Hungarian."""

_WORD = re.compile(r"[^\W\d_]+")
TURKISH_LETTERS: Final = frozenset("çğışöüÇĞİŞÖÜ")
TURKISH_WORDS: Final = frozenset(
    """ve bir bu da de mi mı mu mü ne neden nasıl nerede nedir var yok için ile ama çok
    merhaba selam evet hayır teşekkür teşekkürler lütfen saat saatleri saatleriniz adres adresiniz
    açık kapalı fiyat fiyatlar randevu bisiklet tamir günaydın iyi akşamlar hoşça kal""".split()
)
ENGLISH_WORDS: Final = frozenset(
    """the a an is are what when where how do does you your i we our to of and in on for with
    hello hi yes no thanks thank please open hours address price prices appointment bike""".split()
)


def primary_language(tag: str) -> str:
    """`en-US` → `en`, `tr_TR` → `tr`, `TR` → `tr`."""
    return tag.strip().lower().replace("_", "-").split("-")[0]


def is_auto(tag: str | None) -> bool:
    return tag is not None and tag.strip().lower() == AUTO


def same_language(a: str, b: str) -> bool:
    return primary_language(a) == primary_language(b)


def spoken_language(call_language: str, default: str) -> str:
    """The language the agent speaks on a call: its own, or `default` while an `auto` call has not
    been heard yet (the greeting of an `auto` call is in the platform's default language)."""
    return default if is_auto(call_language) or not call_language.strip() else call_language


def settled_language(call_language: str, heard: str | None, text: str) -> str:
    """The call's language after a transcript in `heard`: an `auto` call takes the first language
    heard with words in it; a call with a language keeps it (a detector's guess never overrides
    the dialplan)."""
    if is_auto(call_language) and heard and not is_auto(heard) and text.strip():
        return heard
    return call_language


def detect_text_language(text: str, default: str = "en") -> str:
    """A typed text's language, `tr` or `en`: Turkish letters (ç ğ ş ö ü, dotless i, dotted capital I)
    or more Turkish than English function words say Turkish. A heuristic on purpose: the agent speaks
    two languages, and the PyPI detectors (langdetect, lingua) are slow to load or misjudge
    three-word questions typed without Turkish letters ("calisma saatleriniz nedir")."""
    if any(c in TURKISH_LETTERS for c in text):
        return "tr"
    words = [w.lower() for w in _WORD.findall(text)]
    tr = sum(w in TURKISH_WORDS or w.endswith(("niz", "nız", "iniz", "sunuz", "misiniz")) for w in words)
    en = sum(w in ENGLISH_WORDS for w in words)
    if tr > en:
        return "tr"
    if en > tr:
        return "en"
    return default


class HasLanguage(Protocol):
    @property
    def language(self) -> str: ...


T = TypeVar("T", bound=HasLanguage)


def for_language(items: Sequence[T], language: str) -> tuple[T, ...]:
    """The items (knowledge entries, prompts) in `language`'s primary language; all of them when none
    is, so a knowledge base written in one language still answers callers in another."""
    own = tuple(i for i in items if same_language(i.language, language))
    return own or tuple(items)
