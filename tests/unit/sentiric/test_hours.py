"""Business hours: parsing (errors name the part) and the open/closed check in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentiric.hours import is_open, parse_hours, zone

FRI_1630_UTC = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)  # a Friday


def test_open_and_closed_in_the_plan_zone() -> None:
    spans = parse_hours("Mon-Fri 09:00-17:00; Sat 10:00-14:00")
    assert is_open(spans, zone("UTC"), FRI_1630_UTC)
    assert not is_open(spans, zone("Europe/Istanbul"), FRI_1630_UTC)  # 19:30 there
    assert not is_open(spans, zone("UTC"), FRI_1630_UTC.replace(hour=17, minute=0))  # the end excluded
    assert is_open(spans, zone("UTC"), datetime(2026, 12, 5, 10, 0, tzinfo=UTC))  # Saturday
    assert not is_open(spans, zone("UTC"), datetime(2026, 12, 6, 12, 0, tzinfo=UTC))  # Sunday
    assert is_open(parse_hours("Fri-Mon 00:00-24:00"), zone("UTC"), datetime(2026, 12, 6, 23, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    "spec", ["", "Mon-Fri", "Xyz 09:00-10:00", "Mon 10:00-09:00", "Mon 09:00-24:01", "Mon 9:00-10:00"]
)
def test_malformed_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_hours(spec)


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        zone("Mars/Olympus")
