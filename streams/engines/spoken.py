"""Dates, clock times and numbers written as digits, turned into the words a caller should hear.

espeak-ng reads "18:00" in Turkish as "on sekiz sıfır sıfır" and Whisper could not make it out (it
heard "sırfır, sırfır"); knowledge answers typed by an admin, and action results ("booked for
2026-12-07 at 10:00, reference 4512"), are written like that. Before synthesis, `spoken_text` writes
them out for the reply's language (English and Turkish; other languages are left to the voice):

- dates: ISO `YYYY-MM-DD` (and Turkish `DD.MM.YYYY`) → "December seventh, twenty twenty-six" /
  "yedi Aralık iki bin yirmi altı";
- clock times (`spoken_times`): each `H:MM` / `HH:MM` (00:00–23:59), Turkish in 24-hour words
  ("on sekiz", "dokuz otuz"), English in 12-hour words with the part of the day ("six in the
  evening", "nine thirty in the morning");
- English ordinals (`1st`, `22nd`) → "first", "twenty-second";
- whole numbers → words; a long run of digits (7 or more, or a leading zero: a phone number, a
  reference) is said digit by digit, as people read those.

English words come from `num2words`. Turkish ones are written here: num2words joins a Turkish number
into one word ("ikibinyirmialtı"), which the voices cannot read; spoken Turkish separates them
("iki bin yirmi altı").
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

from num2words import num2words

from streams.dialog.language import primary_language

_TIME = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?![\d:])")

TR_ONES: Final = ("", "bir", "iki", "üç", "dört", "beş", "altı", "yedi", "sekiz", "dokuz")
TR_TENS: Final = ("", "on", "yirmi", "otuz", "kırk", "elli", "altmış", "yetmiş", "seksen", "doksan")
TR_GROUPS: Final = ((10**9, "milyar"), (10**6, "milyon"), (1000, "bin"))
TR_MONTHS: Final = (
    "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim", "Kasım",
    "Aralık",
)  # fmt: skip
EN_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
DIGITS_ONE_BY_ONE: Final = 7
"""A run of this many digits or more is read digit by digit (a phone number, a reference)."""
_ISO_DATE = re.compile(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])")
_DOTTED_DATE = re.compile(r"(?<![\d.])(\d{1,2})\.(\d{1,2})\.(\d{4})(?![\d.])")
_ORDINAL = re.compile(r"(?<![\d.,])(\d+)(st|nd|rd|th)\b")
_NUMBER = re.compile(r"(?<![\d.,:])\d+(?![\d:]|[.,]\d)")
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


def turkish_cardinal(n: int) -> str:
    """A whole number (below 10¹²) in Turkish words, each word apart: 2026 → "iki bin yirmi altı"."""
    if n == 0:
        return "sıfır"
    words: list[str] = []
    for value, name in TR_GROUPS:
        count, n = divmod(n, value)
        if count:  # "bin", never "bir bin"
            words.append(name if (count, value) == (1, 1000) else f"{_turkish_below_1000(count)} {name}")
    if n:
        words.append(_turkish_below_1000(n))
    return " ".join(words)


def _turkish_below_1000(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = ["yüz" if hundreds == 1 else f"{TR_ONES[hundreds]} yüz"] if hundreds else []
    words += [w for w in (TR_TENS[rest // 10], TR_ONES[rest % 10]) if w]
    return " ".join(words)


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


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _english_date(d: date) -> str:
    day = num2words(d.day, lang="en", to="ordinal")
    return f"{EN_MONTHS[d.month - 1]} {day}, {num2words(d.year, lang='en', to='year')}"


def _turkish_date(d: date) -> str:
    return f"{turkish_cardinal(d.day)} {TR_MONTHS[d.month - 1]} {turkish_cardinal(d.year)}"


def _english_cardinal(n: int) -> str:
    return str(num2words(n, lang="en"))


def _digits(run: str, say: dict[str, str]) -> str:
    return " ".join(say[c] for c in run)


EN_DIGITS: Final = {str(i): w for i, w in enumerate(("zero", *EN_ONES[1:10]))}
TR_DIGITS: Final = {str(i): w for i, w in enumerate(("sıfır", *TR_ONES[1:10]))}


def spoken_text(text: str, language: str) -> str:
    """`text` with its dates, clock times and numbers in words for a voice speaking `language`."""
    lang = primary_language(language)
    if lang not in ("en", "tr"):
        return text
    to_date = _english_date if lang == "en" else _turkish_date
    cardinal = _english_cardinal if lang == "en" else turkish_cardinal
    digits = EN_DIGITS if lang == "en" else TR_DIGITS

    def iso(m: re.Match[str]) -> str:
        d = _valid(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        return m.group(0) if d is None else to_date(d)

    def dotted(m: re.Match[str]) -> str:
        d = _valid(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return m.group(0) if d is None else to_date(d)

    def number(m: re.Match[str]) -> str:
        run = m.group(0)
        if len(run) >= DIGITS_ONE_BY_ONE or (len(run) > 1 and run.startswith("0")):
            return _digits(run, digits)
        return cardinal(int(run))

    text = _ISO_DATE.sub(iso, text)
    if lang == "tr":
        text = _DOTTED_DATE.sub(dotted, text)
    text = spoken_times(text, language)
    if lang == "en":
        text = _ORDINAL.sub(lambda m: str(num2words(int(m.group(1)), lang="en", to="ordinal")), text)
    return _NUMBER.sub(number, text)


def spoken_times(text: str, language: str) -> str:
    """`text` with its clock times in words for a voice speaking `language` (en and tr; others as is)."""
    lang = primary_language(language)
    say = {"tr": _turkish_time, "en": _english_time}.get(lang)
    if say is None:
        return text
    return _TIME.sub(lambda m: say(int(m.group(1)), int(m.group(2))), text)
