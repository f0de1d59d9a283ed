"""Slot values out of a Turkish caller's words: dates, times, names, evet and hayır. Pure.

The same contract as `streams.dialog.slots` (English), for calls whose language is Turkish. Text is
matched after Turkish case and accent folding (`streams.engines.turkish.fold`: İ → i, I → ı, then
ç ş ğ ö ü ı → c s g o u i), so "YARIN SAAT ONDA", "yarın saat onda" and "yarin saat onda" (a keyboard
or a transcript without Turkish letters) read alike. Apostrophes before suffixes go ("10'da" →
"10da", "Aralık'ta" → "aralikta"). Numbers come as digits (Whisper) or words (grammars, typing),
with their case suffix attached: "onda" (at ten), "üçte" (at three), "ona" (to ten), "onu" (ten,
accusative: "onu çeyrek geçe").

Dates, relative to `today` (the call's date, so a replay finds the same):

- ``bugün``, ``yarın``, ``yarından sonra`` / ``öbür gün``;
- weekday names with any suffix (``pazartesi``, ``salıya``, ``cumartesi günü``): the next such day
  after today (named on that very weekday: a week later), as in English;
- ``15 Aralık``, ``on beş aralıkta``, ``15 Aralık 2026`` (no year: the next such day from today),
  ``15.12.2026``, ``15/12/2026``, ISO ``2026-12-15``.

Times:

- ``14:30``, ``14.30``, ``saat 10'da``, ``saat on``, ``onda``, ``üçte``, ``saat on otuzda``,
  ``iki buçukta``, ``onu çeyrek geçe`` (10:15), ``ona çeyrek kala`` (9:45), ``onu beş geçe``,
  ``ona on kala``;
- parts of the day: ``sabah`` (morning), ``öğleden sonra`` / ``öğlen`` (afternoon: ``öğleden sonra
  üçte`` is 15:00), ``akşam`` (evening), ``gece`` (night); ``öğlen`` alone is 12:00;
- an hour without a part of the day is read as business hours, as in English: 1-7 afternoon, 8-12
  morning or noon; 13-23 as said.

Names: ``adım X``, ``benim adım X``, ``ismim X``, ``X adına``; when the name is the slot just asked
for, the whole answer (fillers like "evet", "ben", "tabii" stripped, at most four words). Names are
capitalised by Turkish rules (``ilknur ışık`` → ``İlknur Işık``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from streams.engines.turkish import fold

WEEKDAYS: Final = ("Pazartesi", "Salı", "Çarşamba", "Perşembe", "Cuma", "Cumartesi", "Pazar")
MONTHS: Final = (
    "Ocak", "Şubat", "Mart", "Nisan", "Mayıs", "Haziran", "Temmuz", "Ağustos", "Eylül", "Ekim", "Kasım",
    "Aralık",
)  # fmt: skip
_FOLDED_WEEKDAYS: Final = sorted(((fold(w), i) for i, w in enumerate(WEEKDAYS)), key=lambda x: -len(x[0]))
_FOLDED_MONTHS: Final = sorted(
    [*((fold(m), i + 1) for i, m in enumerate(MONTHS)), ("ocag", 1), ("aralig", 12)],  # Ocağın, Aralığın
    key=lambda x: -len(x[0]),
)
MAX_SUFFIX: Final = 5
"""Letters a weekday or month name may carry after it ("cumartesiye", "aralıkta", "pazartesileri")."""

UNITS: Final[dict[str, int]] = {
    "bir": 1, "iki": 2, "uc": 3, "dort": 4, "dord": 4, "bes": 5, "alti": 6, "yedi": 7, "sekiz": 8,
    "dokuz": 9, "sifir": 0,
}  # fmt: skip
"""Folded; "dörd" is "dört" before a vowel suffix ("dörde", "dördü")."""
TENS: Final[dict[str, int]] = {"on": 10, "yirmi": 20, "otuz": 30, "kirk": 40, "elli": 50}
LOCATIVE: Final = frozenset({"da", "de", "ta", "te"})
DATIVE: Final = frozenset({"a", "e", "ya", "ye"})
ACCUSATIVE: Final = frozenset({"i", "u", "yi", "yu"})
_SUFFIXES: Final = LOCATIVE | DATIVE | ACCUSATIVE | {""}
_NUMBER_WORDS: Final = sorted([*UNITS.items(), *TENS.items()], key=lambda x: -len(x[0]))

YES: Final = frozenset(
    """evet tamam tamamdir olur tabii tabi elbette kesinlikle dogru aynen onayliyorum onay uygun
    peki ok okey lutfen""".split()
)
YES_PHRASES: Final = ("sorun yok", "problem yok", "aynen oyle", "oldu")
"""Said as a yes, although "yok" is a no word: they are taken out before the no words are looked for."""
NO: Final = frozenset("hayir yok istemiyorum olmaz yanlis degil vazgec vazgectim iptal".split())
CANCEL_PHRASES: Final = ("iptal", "vazgec", "vazgectim", "bos ver", "bosver", "bosverin", "unut", "unutun")

_APOSTROPHES = re.compile(r"['’`]")
_TOKEN = re.compile(r"\d{1,2}[:.]\d{2}(?!\d)[a-z]*|\d+[a-z]*|[a-z]+")
_CLOCK = re.compile(r"(\d{1,2})[:.](\d{2})([a-z]*)")
_DIGITS = re.compile(r"(\d+)([a-z]*)")
_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DOTTED = re.compile(r"(?<![\d.])(\d{1,2})[./](\d{1,2})[./](\d{4})(?![\d.])")
_NAME_SAID: Final = re.compile(r"\b(?:benim adim|adim soyadim|adim|benim ismim|ismim)\s+(.+)")
_NAME_BEFORE_ADINA: Final = re.compile(r"\badina\b")
_NAME_FILLERS: Final = re.compile(
    r"^(?:(?:evet|tabii|tabi|tamam|peki|efendim|ben|benim|adim|ismim|soyadim|adim soyadim|"
    r"isim|ad)[\s,]+)+"
)
_NAME_TRAILERS: Final = re.compile(r"(?:[\s,]+(?:olsun|adina|lutfen|efendim|tesekkurler|tesekkur ederim))+$")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['-][^\W\d_]+)*")


def folded(text: str) -> str:
    """`text` folded (`turkish.fold`) and without apostrophes; other characters kept one for one."""
    return _APOSTROPHES.sub("", fold(text))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", folded(text))


@dataclass(frozen=True, slots=True)
class _Num:
    value: int
    suffix: str
    minutes: int | None = None
    """A clock time ("14:30"): `value` is the hour."""


_Item = _Num | str


def _number_word(token: str) -> tuple[int, str, bool] | None:
    """(value, suffix, is_tens) of a number word with its case suffix: "onda" → (10, "da", True)."""
    for word, value in _NUMBER_WORDS:
        if token.startswith(word) and token[len(word) :] in _SUFFIXES:
            return value, token[len(word) :], word in TENS
    return None


def _items(text: str) -> list[_Item]:
    """The text as words and numbers: "saat on birde" → ["saat", _Num(11, "de")]."""
    out: list[_Item] = []
    tokens = _TOKEN.findall(text)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if clock := _CLOCK.fullmatch(token):
            out.append(_Num(int(clock[1]), clock[3], int(clock[2])))
            continue
        if digits := _DIGITS.fullmatch(token):
            out.append(_Num(int(digits[1]), digits[2]))
            continue
        word = _number_word(token)
        if word is None:
            out.append(token)
            continue
        value, suffix, tens = word
        if tens and not suffix and i < len(tokens):  # "on bir", "yirmi üçte": tens then units
            unit = _number_word(tokens[i])
            if unit is not None and not unit[2] and unit[0] > 0:
                value, suffix = value + unit[0], unit[1]
                i += 1
        out.append(_Num(value, suffix))
    return out


def _without_dates(t: str) -> str:
    return _DOTTED.sub(" ", _ISO.sub(" ", t))


def _part_of_day(items: list[_Item]) -> str | None:
    """am, pm or night, from the words for the part of the day. "gece" is night unless it follows a
    number or "çeyrek": then it is "geçe" (past) folded ("onu çeyrek geçe")."""
    for i, item in enumerate(items):
        if not isinstance(item, str):
            continue
        if item.startswith(("ogle", "aksam")):
            return "pm"
        if item.startswith("sabah"):
            return "am"
        before = items[i - 1] if i > 0 else None
        if item.startswith("gece") and not isinstance(before, _Num) and not _is(before, "ceyrek"):
            return "night"
    return None


def _hour24(hour: int, part: str | None) -> int | None:
    if not 0 <= hour <= 24:
        return None
    if hour == 24:
        return 0
    if part == "pm":
        return hour + 12 if hour < 12 else hour
    if part == "am":
        return 0 if hour == 12 else hour
    if part == "night":
        return 0 if hour == 12 else hour + 12 if 6 <= hour < 12 else hour
    if hour > 12:
        return hour
    return hour + 12 if 1 <= hour <= 7 else hour


def _clock(hour: int, minute: int, part: str | None) -> str | None:
    h = _hour24(hour, part)
    if h is None or not 0 <= minute < 60:
        return None
    return f"{h:02d}:{minute:02d}"


def _is(item: _Item | None, *prefixes: str) -> bool:
    return isinstance(item, str) and item.startswith(prefixes)


def parse_time(text: str, *, asked: bool = False) -> str | None:
    """`HH:MM` (24-hour) of the first time said, or None. `asked`: the caller answers "saat kaçta?",
    so a bare hour ("on") counts."""
    t = _without_dates(folded(text))
    items = _items(t)
    part = _part_of_day(items)

    def at(i: int) -> _Item | None:
        return items[i] if 0 <= i < len(items) else None

    for i, item in enumerate(items):
        if not isinstance(item, _Num):
            continue
        if item.minutes is not None:  # 14:30, 10.30'da
            return _clock(item.value, item.minutes, part)
        nxt, after = at(i + 1), at(i + 2)
        # onu çeyrek geçe, onu beş geçe, ona çeyrek kala, ona on kala / var
        if _is(nxt, "ceyrek") or (isinstance(nxt, _Num) and nxt.minutes is None):
            minutes = 15 if _is(nxt, "ceyrek") else nxt.value if isinstance(nxt, _Num) else 0
            if item.suffix in ACCUSATIVE and _is(after, "gece") and 0 < minutes < 60:
                return _clock(item.value, minutes, part)
            if item.suffix in DATIVE and _is(after, "kala", "var") and 0 < minutes < 60:
                return _clock((item.value - 1) % 12 or 12, 60 - minutes, part)
        if _is(nxt, "bucu"):  # iki buçukta
            return _clock(item.value, 30, part)
        saat = _is(at(i - 1), "saat")
        # saat on otuzda, on otuzda: hour, then minutes (a round 10-55, or anything after "saat")
        if (
            isinstance(nxt, _Num) and nxt.minutes is None and not item.suffix and item.value <= 24
            and (saat or (nxt.suffix in LOCATIVE and nxt.value >= 10)) and 0 < nxt.value < 60
        ):  # fmt: skip
            return _clock(item.value, nxt.value, part)
        if item.suffix in LOCATIVE or saat:  # onda, üçte, 10'da, saat on
            found = _clock(item.value, 0, part)
            if found is not None:
                return found
    if re.search(r"\bogle(n|yin)?\b", t) or "oglen" in t:
        return "12:00"
    if asked:
        for item in items:
            if isinstance(item, _Num) and item.minutes is None:
                found = _clock(item.value, 0, part)
                if found is not None:
                    return found
    return None


def _next_date(day: int, month: int, year: int | None, today: date) -> str | None:
    try:
        if year is not None:
            return date(year, month, day).isoformat()
        d = date(today.year, month, day)
        return (d if d >= today else date(today.year + 1, month, day)).isoformat()
    except ValueError:
        return None


def _named(token: str, names: list[tuple[str, int]]) -> int | None:
    for name, value in names:
        if token.startswith(name) and len(token) - len(name) <= MAX_SUFFIX:
            return value
    return None


def parse_date(text: str, today: date) -> str | None:
    """ISO date of the first day said, relative to `today`, or None."""
    t = folded(text)
    if iso := _ISO.search(t):
        return _next_date(int(iso[3]), int(iso[2]), int(iso[1]), today)
    if dotted := _DOTTED.search(t):
        return _next_date(int(dotted[1]), int(dotted[2]), int(dotted[3]), today)
    if re.search(r"\byarindan sonra\b|\bobur gun", t):
        return (today + timedelta(days=2)).isoformat()
    items = _items(t)
    for i, item in enumerate(items):
        month = _named(item, _FOLDED_MONTHS) if isinstance(item, str) else None
        before = items[i - 1] if i > 0 else None
        if month is not None and isinstance(before, _Num) and before.minutes is None and not before.suffix:
            after = items[i + 1] if i + 1 < len(items) else None
            year = after.value if isinstance(after, _Num) and after.value >= 1000 else None
            return _next_date(before.value, month, year, today)
    ws = [w for w in items if isinstance(w, str)]
    if any(w.startswith("yarin") for w in ws):
        return (today + timedelta(days=1)).isoformat()
    if any(w.startswith("bugun") for w in ws):
        return today.isoformat()
    for w in ws:
        day = _named(w, _FOLDED_WEEKDAYS)
        if day is not None:
            ahead = (day - today.weekday()) % 7 or 7
            return (today + timedelta(days=ahead)).isoformat()
    return None


def title(word: str) -> str:
    """A word capitalised by Turkish rules: "ilknur" → "İlknur", "ışık" → "Işık", "AYŞE" → "Ayşe"."""
    lower = word.replace("İ", "i").replace("I", "ı").lower()
    first = {"i": "İ", "ı": "I"}.get(lower[:1], lower[:1].upper())
    return first + lower[1:]


def _original(text: str, t: str, start: int, end: int) -> str:
    """The caller's own spelling of `t[start:end]` (`t` is `text` folded; same length when the
    folding kept every character one for one, else the folded letters)."""
    raw = _APOSTROPHES.sub("", text)
    return raw[start:end] if len(raw) == len(t) else t[start:end]


def parse_name(text: str, *, asked: bool = False) -> str | None:
    """A person's name, capitalised, or None."""
    t = folded(text)
    if said := _NAME_SAID.search(t):
        return _clean_name(_original(text, t, said.start(1), said.end(1)))
    if adina := _NAME_BEFORE_ADINA.search(t):
        return _name_before(_original(text, t, 0, adina.start()))
    if asked:
        fillers = _NAME_FILLERS.match(t)
        start = fillers.end() if fillers else 0
        trailer = _NAME_TRAILERS.search(t[start:])
        end = start + trailer.start() if trailer else len(t)
        return _clean_name(_original(text, t, start, end))
    return None


def _name_before(raw: str) -> str | None:
    """The name just before "adına": its capitalised words ("... Ayşe Yılmaz adına"), or the whole
    text when it is short ("ayşe yılmaz adına")."""
    found = _NAME_WORD.findall(raw)
    capitalised: list[str] = []
    for word in reversed(found):
        if not word[:1].isupper():
            break
        capitalised.insert(0, word)
    if capitalised and len(capitalised) < len(found):
        return _clean_name(" ".join(capitalised))
    return _clean_name(raw) if len(found) <= 3 else None


def _clean_name(raw: str) -> str | None:
    parts = [w for w in _NAME_WORD.findall(raw) if folded(w) not in ("lutfen", "tesekkurler")]
    if not parts or len(parts) > 4:
        return None
    return " ".join("-".join(title(p) for p in part.split("-")) for part in parts)


def _without_yes_phrases(text: str) -> str:
    t = " ".join(words(text))
    for phrase in YES_PHRASES:
        t = re.sub(rf"\b{phrase}\b", " ", t)
    return t


def is_yes(text: str) -> bool:
    said = " ".join(words(text))
    rest = _without_yes_phrases(text).split()
    if any(w in NO for w in rest):
        return False
    return any(w in YES for w in rest) or any(re.search(rf"\b{p}\b", said) for p in YES_PHRASES)


def is_no(text: str) -> bool:
    return any(w in NO for w in _without_yes_phrases(text).split())


def is_cancel(text: str) -> bool:
    t = " ".join(words(text))
    return any(re.search(rf"\b{re.escape(p)}\b", t) for p in CANCEL_PHRASES)


def spoken_date(iso: str, today: date) -> str:
    """How the agent says a date in Turkish: "yarın, 7 Aralık Pazartesi" (the voice reads the digits
    as words, `streams.engines.spoken`)."""
    d = date.fromisoformat(iso)
    name = f"{d.day} {MONTHS[d.month - 1]} {WEEKDAYS[d.weekday()]}"
    if d == today:
        return f"bugün, {name}"
    if d == today + timedelta(days=1):
        return f"yarın, {name}"
    return name


def spoken_time(hhmm: str) -> str:
    """How the agent says a time in Turkish: the 24-hour clock, "14:30" (read "on dört otuz")."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    return f"{hour:02d}:{minute:02d}"
