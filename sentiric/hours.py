"""Business hours of a dialplan: ``"Mon-Fri 09:00-17:00; Sat 10:00-14:00"`` in an IANA time zone.

Each ``;``-separated part is a day or day range (``Mon``…``Sun``, ranges may wrap: ``Fri-Mon``) and a
``HH:MM-HH:MM`` span, the end excluded (``24:00`` is midnight at the end of the day).  Parsed by the
admin API (a malformed value is a 422) and by the edge (a malformed plan is ignored and logged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(r"^\s*([A-Za-z]{3})(?:\s*-\s*([A-Za-z]{3}))?\s+(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class Span:
    days: frozenset[int]  # 0 = Monday
    start_min: int
    end_min: int


def _day(name: str) -> int:
    try:
        return DAYS.index(name.lower())
    except ValueError:
        raise ValueError(f"unknown day {name!r} (Mon…Sun)") from None


def parse_hours(spec: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    for part in spec.split(";"):
        if not part.strip():
            continue
        match = _PART.match(part)
        if match is None:
            raise ValueError(f"business hours part {part.strip()!r} is not like 'Mon-Fri 09:00-17:00'")
        first = _day(match.group(1))
        last = _day(match.group(2)) if match.group(2) else first
        days = frozenset((first + i) % 7 for i in range((last - first) % 7 + 1))
        h1, m1, h2, m2 = (int(match.group(i)) for i in range(3, 7))
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60 or start >= end:
            raise ValueError(f"business hours span {part.strip()!r} is not a time range within a day")
        spans.append(Span(days, start, end))
    if not spans:
        raise ValueError("business hours are empty")
    return tuple(spans)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


def is_open(spans: tuple[Span, ...], tz: ZoneInfo, at: datetime) -> bool:
    """Whether ``at`` (aware) falls in one of the spans, in ``tz``'s local time."""
    local = at.astimezone(tz)
    minute = local.hour * 60 + local.minute
    return any(local.weekday() in s.days and s.start_min <= minute < s.end_min for s in spans)
