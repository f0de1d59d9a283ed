"""Which voice speaks which language: the natural voice where it exists, espeak-ng everywhere else.

hibari speaks English only (its G2P is English's); espeak-ng has ~100 languages (Turkish, German, ...)
with a robotic but intelligible voice. `ByLanguage` sends each utterance to the first engine that
speaks its BCP 47 tag's primary language, so a Turkish tenant keeps its voice while English callers
hear the natural one. The choice is by the primary subtag: `en`, `en-US`, `en-GB` and espeak-ng voice
names such as `en-gb` (which the speech server accepts in place of a language) are all English.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace

from streams.engines.tts import Speech, TextToSpeech

NATURAL_LANGUAGES = frozenset({"en"})
"""Primary language subtags the natural (hibari) voice speaks."""


def primary_language(tag: str) -> str:
    """`en-US` → `en`, `tr_TR` → `tr`, `EN` → `en`."""
    return tag.strip().lower().replace("_", "-").split("-")[0]


def speaks(languages: Collection[str], tag: str) -> bool:
    return primary_language(tag) in languages


class ByLanguage:
    """TextToSpeech that gives `natural` the languages it speaks and `fallback` all others."""

    def __init__(
        self, natural: TextToSpeech, fallback: TextToSpeech, languages: frozenset[str] = NATURAL_LANGUAGES
    ) -> None:
        self.natural = natural
        self.fallback = fallback
        self.languages = languages
        self.name = f"{natural.name}|{fallback.name}"

    def engine_for(self, language: str) -> TextToSpeech:
        return self.natural if speaks(self.languages, language) else self.fallback

    def synthesize(self, text: str, language: str) -> Speech:
        engine = self.engine_for(language)
        speech = engine.synthesize(text, language)
        return speech if speech.engine else replace(speech, engine=engine.name)
