"""Slot values out of a caller's words: dates, times, names, yes and no. Pure: no I/O, no clock.

Dates are resolved relative to the call's own time (`today`, the date of the fact being answered), so
a replay finds the same dates:

- ``today``, ``tomorrow``, ``the day after tomorrow``;
- weekday names (``monday``, ``on friday``, ``next tuesday``): the next such day after today (a
  weekday named on that very weekday means a week later);
- ISO dates (``2026-12-07``).

Times, as speech-to-text writes them (Whisper writes digits, grammars write words):

- ``10:30``, ``10.30``, ``10 am``, ``3 p.m.``, ``10 o'clock``, ``at 10``, ``at ten``, ``ten thirty``,
  ``half past ten``, ``quarter past/to ten``, ``noon``, ``midday``, ``in the morning/afternoon/evening``;
- an hour without am/pm is read as business hours: 1-7 are afternoon (``at three`` is 15:00), 8-12
  morning or noon.

Names: ``my name is X``, ``name's X``, ``call me X`` anywhere; when the name is the slot just asked
for, the whole answer (fillers like "it's" and punctuation stripped, at most four words).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Final

WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS: Final = (
    "January February March April May June July August September October November December".split()
)
NUMBERS: Final[dict[str, int]] = {
    w: n
    for n, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve".split(),
    )
}
MINUTES: Final[dict[str, int]] = {
    "oh five": 5, "ten": 10, "fifteen": 15, "twenty": 20, "twenty five": 25, "thirty": 30,
    "forty": 40, "forty five": 45, "fifty": 50, "fifty five": 55,
}  # fmt: skip
YES: Final = frozenset(
    "yes yeah yep yup sure correct right ok okay confirm confirmed absolutely definitely please".split()
)
YES_PHRASES: Final = ("go ahead", "do it", "sounds good", "that's right", "that is right")
NO: Final = frozenset("no nope nah don't dont not wrong cancel".split())
CANCEL_PHRASES: Final = ("never mind", "nevermind", "forget it", "cancel", "stop")

_WORDS = re.compile(r"[a-z0-9']+")
_HOUR_WORDS = "|".join(sorted(NUMBERS, key=len, reverse=True))
_MINUTE_WORDS = "|".join(sorted(MINUTES, key=len, reverse=True))
_MERIDIEM = r"(a\.?\s?m\.?|p\.?\s?m\.?|o'?clock|in the morning|in the afternoon|in the evening|at night)"
_HOUR = rf"(\d{{1,2}}|{_HOUR_WORDS})"
_TIME_PATTERNS: Final = (
    # 10:30, 10.30 (Whisper writes both), optional meridiem
    re.compile(rf"\b(\d{{1,2}})[:.](\d{{2}})\b\s*{_MERIDIEM}?"),
    # half past ten / quarter past ten / quarter to ten
    re.compile(rf"\b(half past|quarter past|quarter to)\s+{_HOUR}\b\s*{_MERIDIEM}?"),
    # ten thirty, 10 30, ten oh five (minutes as words)
    re.compile(rf"\b{_HOUR}\s+({_MINUTE_WORDS})\b\s*{_MERIDIEM}?"),
    # 10 am, ten o'clock, 3 in the afternoon
    re.compile(rf"\b{_HOUR}\s*{_MERIDIEM}"),
    # at ten, at 10 (the hour alone needs "at" outside an answer to "what time?")
    re.compile(rf"\bat\s+{_HOUR}\b"),
)
_NAME_SAID: Final = re.compile(r"\b(?:my name is|my name's|name is|name's|call me)\s+(.+)", re.I)
_NAME_FILLERS: Final = re.compile(
    r"^(?:(?:yes|yeah|sure|okay|ok|well|um|uh|so|please|it's|it is|i'm|i am|my name is|name is|"
    r"this is|the name is|put it under|under|call me)[\s,]+)+",
    re.I,
)


def words(text: str) -> list[str]:
    return _WORDS.findall(text.lower().replace("’", "'"))


def _number(token: str) -> int:
    return int(token) if token.isdigit() else NUMBERS[token]


def _business_hour(hour: int, meridiem: str | None) -> int | None:
    if not 0 <= hour <= 23:
        return None
    m = (meridiem or "").replace(".", "").replace(" ", "")
    if m.startswith("pm") or m in ("intheafternoon", "intheevening", "atnight"):
        return hour + 12 if hour < 12 else hour
    if m.startswith("am") or m == "inthemorning":
        return 0 if hour == 12 else hour
    if hour > 12:
        return hour  # 24-hour clock
    return hour + 12 if 1 <= hour <= 7 else hour


def parse_time(text: str, *, asked: bool = False) -> str | None:
    """`HH:MM` (24-hour) of the first time said, or None. `asked`: the caller answers "what time?",
    so a bare hour ("ten") counts."""
    t = text.lower()
    for i, pattern in enumerate(_TIME_PATTERNS):
        found = pattern.search(t)
        if not found:
            continue
        g = found.groups()
        if i == 0:
            hour, minute, meridiem = int(g[0]), int(g[1]), g[2]
        elif i == 1:
            hour, meridiem = _number(g[1]), g[2]
            minute = {"half past": 30, "quarter past": 15, "quarter to": 45}[g[0]]
            if g[0] == "quarter to":
                hour = (hour - 1) % 12 or 12
        elif i == 2:
            hour, minute, meridiem = _number(g[0]), MINUTES[g[1]], g[2]
        elif i == 3:
            hour, minute, meridiem = _number(g[0]), 0, g[1]
        else:
            hour, minute, meridiem = _number(g[0]), 0, None
        hour24 = _business_hour(hour, meridiem)
        if hour24 is not None and 0 <= minute < 60:
            return f"{hour24:02d}:{minute:02d}"
    if "noon" in t or "midday" in t:
        return "12:00"
    if asked:
        for w in words(t):
            if w in NUMBERS or (w.isdigit() and len(w) <= 2):
                hour24 = _business_hour(_number(w), None)
                if hour24 is not None:
                    return f"{hour24:02d}:00"
    return None


def parse_date(text: str, today: date) -> str | None:
    """ISO date of the first day said, relative to `today`, or None."""
    t = text.lower()
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", t)
    if iso:
        try:
            return date(int(iso[1]), int(iso[2]), int(iso[3])).isoformat()
        except ValueError:
            return None
    if "day after tomorrow" in t:
        return (today + timedelta(days=2)).isoformat()
    ws = words(t)
    if "tomorrow" in ws:
        return (today + timedelta(days=1)).isoformat()
    if "today" in ws or "tonight" in ws:
        return today.isoformat()
    for w in ws:
        day = w.removesuffix("s")  # "mondays" said as "on monday"
        if day in WEEKDAYS:
            ahead = (WEEKDAYS.index(day) - today.weekday()) % 7 or 7
            return (today + timedelta(days=ahead)).isoformat()
    return None


def parse_name(text: str, *, asked: bool = False) -> str | None:
    """A person's name, title-cased, or None."""
    found = _NAME_SAID.search(text)
    if found:
        return _clean_name(found[1])
    if asked:
        return _clean_name(_NAME_FILLERS.sub("", text.strip()))
    return None


def _clean_name(raw: str) -> str | None:
    parts = [
        w for w in re.findall(r"[^\W\d_]+(?:['-][^\W\d_]+)*", raw) if w.lower() not in ("please", "thanks")
    ]
    if not parts or len(parts) > 4:
        return None
    return " ".join(p[:1].upper() + p[1:] for p in parts)


def is_yes(text: str) -> bool:
    ws = words(text)
    if any(w in NO for w in ws):
        return False
    t = " ".join(ws)
    return any(w in YES for w in ws) or any(p in t for p in YES_PHRASES)


def is_no(text: str) -> bool:
    return any(w in NO for w in words(text))


def is_cancel(text: str) -> bool:
    t = " ".join(words(text))
    return any(re.search(rf"\b{re.escape(p)}\b", t) for p in CANCEL_PHRASES)


def spoken_date(iso: str, today: date) -> str:
    """How the agent says a date: "tomorrow, Sunday 6 December"."""
    d = date.fromisoformat(iso)
    name = f"{WEEKDAYS[d.weekday()].capitalize()} {d.day} {MONTHS[d.month - 1]}"
    if d == today:
        return f"today, {name}"
    if d == today + timedelta(days=1):
        return f"tomorrow, {name}"
    return name


def spoken_time(hhmm: str) -> str:
    """How the agent says a time: "10 am", "3:30 pm", "noon"."""
    hour, minute = (int(x) for x in hhmm.split(":"))
    if (hour, minute) == (12, 0):
        return "noon"
    suffix = "am" if hour < 12 else "pm"
    h12 = hour % 12 or 12
    return f"{h12} {suffix}" if minute == 0 else f"{h12}:{minute:02d} {suffix}"
