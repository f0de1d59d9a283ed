"""Sentences out of a token stream, so the first one can be spoken while the rest is still coming.

Pure and incremental: `SentenceSplitter.feed(piece)` returns the sentences the pieces so far complete,
`flush()` the rest at the end of the stream. The chunks concatenate to exactly the text fed (spaces
included), and the cut points do not depend on how the text was cut into tokens: a boundary is only
decided once the character after it has arrived.

A boundary is a run of terminators (``.``, ``!``, ``?``, ``…``, with closing quotes or brackets),
then whitespace, then a character that can start a sentence. Not boundaries:

- no whitespace after the terminator ("9.30", "3.5 km", "example.com");
- a lower-case next word ("e.g. the", "at 9 a.m. or later", "wait... then");
- a known abbreviation or an initial before a single full stop ("Dr. Smith", "J. Doe", "No. 5").

A sentence shorter than `min_chars` is not sent alone (TTS of "Sure." costs a round trip for a
fraction of a second of audio): it is merged with what follows.
"""

from __future__ import annotations

import re
from typing import Final

DEFAULT_MIN_CHARS: Final = 20
ABBREVIATIONS: Final = frozenset(
    "mr mrs ms dr prof st sr jr vs etc e.g i.e no nr approx inc ltd co corp mt ave rd dept fig tel ext "
    "jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun".split()
)
"""Words (lower case, without the final full stop) after which a full stop ends no sentence."""
_BOUNDARY: Final = re.compile(r"([.!?…]+[\"'”’)\]]*)(\s+)(?=\S)")
_LAST_WORD: Final = re.compile(r"(\S+)$")


def _is_abbreviation(before: str) -> bool:
    match = _LAST_WORD.search(before)
    if match is None:
        return False
    word = match.group(1).lstrip("(\"'“‘[").lower()
    if word in ABBREVIATIONS:
        return True
    if len(word) == 1 and word.isalpha():
        return True  # an initial: "J. Doe"
    # dotted letters: "u.s", "p.m" stay joined only when the next word is lower case (checked by the caller)
    return "." in word and all(len(part) == 1 for part in word.split("."))


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    following = text[match.end()]
    if following.islower():
        return False
    if match.group(1) == ".":
        before = text[: match.start()]
        word = _LAST_WORD.search(before)
        if word is not None and "." in word.group(1) and following.isupper():
            return True  # "open until 6 p.m. Call us": dotted letters then a capital end the sentence
        if _is_abbreviation(before):
            return False
    return True


class SentenceSplitter:
    """Feed text pieces as they arrive; get whole sentences (at least `min_chars` long) back."""

    __slots__ = ("_buffer", "min_chars")

    def __init__(self, min_chars: int = DEFAULT_MIN_CHARS) -> None:
        self.min_chars = min_chars
        self._buffer = ""

    def feed(self, piece: str) -> list[str]:
        self._buffer += piece
        out: list[str] = []
        while (cut := self._next_cut()) is not None:
            out.append(self._buffer[:cut])
            self._buffer = self._buffer[cut:]
        return out

    def flush(self) -> list[str]:
        """The end of the stream: whatever is left, as the last chunk (none if nothing is left)."""
        rest, self._buffer = self._buffer, ""
        return [rest] if rest else []

    @property
    def pending(self) -> str:
        """Text fed and not returned yet."""
        return self._buffer

    def _next_cut(self) -> int | None:
        text = self._buffer
        for match in _BOUNDARY.finditer(text):
            if len(text[: match.start()].strip()) + len(match.group(1)) < self.min_chars:
                continue
            if _ends_sentence(text, match):
                return match.end()
        return None


def split_sentences(text: str, min_chars: int = DEFAULT_MIN_CHARS) -> list[str]:
    """A whole text's chunks, as `SentenceSplitter` would give them."""
    splitter = SentenceSplitter(min_chars)
    return [*splitter.feed(text), *splitter.flush()]
