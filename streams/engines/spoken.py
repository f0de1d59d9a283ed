"""Clock times written as digits, turned into the words a caller should hear, per language.

espeak-ng reads "18:00" in Turkish as "on sekiz sıfır sıfır" and Whisper could not make it out (it
heard "sırfır, sırfır"); knowledge answers typed by an admin have times like that. Before synthesis,
`spoken_times` writes each `H:MM` / `HH:MM` (00:00–23:59) out: Turkish in 24-hour words ("on sekiz",
"dokuz otuz"), English in 12-hour words with the part of the day ("six in the evening", "nine thirty
in the morning"). Other languages, and other numbers, are left to the voice.
"""

from __future__ import annotations

import re
from typing import Final

from streams.dialog.language import primary_language

_TIME = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")

TR_ONES: Final = ("", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz")
TR_TENS: Final = ("", "on", "yirmi", "otuz", "kırk", "elli")
EN_ONES: Final = (
    "", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
EN_TENS: Final = ("", "", "twenty", "thirty", "forty", "fifty")


def turkish_number(n: int) -> str:
    """0–59 in Turkish words."""
    if n == 0:
        return "sıfır"
    return " ".join(w for w in (TR_TENS[n // 10], TR_ONES[n % 10]) if w)


def english_number(n: int) -> str:
    """0–59 in English words."""
    if n == 0:
        return "zero"
    if n < 20:
        return EN_ONES[n]
    return "-".join(w for w in (EN_TENS[n // 10], EN_ONES[n % 10]) if w)


def _turkish_time(hour: int, minute: int) -> str:
    return turkish_number(hour) if minute == 0 else f"{turkish_number(hour)} {turkish_number(minute)}"


def _english_time(hour: int, minute: int) -> str:
    if (hour, minute) == (12, 0):
        return "noon"
    if (hour, minute) == (0, 0):
        return "midnight"
    clock = english_number(hour % 12 or 12)
    if minute:
        clock += " oh " + english_number(minute) if minute < 10 else " " + english_number(minute)
    part = "in the morning" if hour < 12 else "in the afternoon" if hour < 18 else "in the evening"
    return f"{clock} {part}"


def spoken_times(text: str, language: str) -> str:
    """`text` with its clock times in words for a voice speaking `language` (en and tr; others as is)."""
    lang = primary_language(language)
    say = {"tr": _turkish_time, "en": _english_time}.get(lang)
    if say is None:
        return text
    return _TIME.sub(lambda m: say(int(m.group(1)), int(m.group(2))), text)
