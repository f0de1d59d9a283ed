from datetime import date

import pytest

from streams.dialog import slots as sl

SAT = date(2026, 12, 5)  # a Saturday


@pytest.mark.parametrize(
    ("text", "asked", "expected"),
    [
        ("I would like to book a service tomorrow at ten", False, "10:00"),
        ("I would like to book a service tomorrow at 10.", False, "10:00"),
        ("at 10:30 please", False, "10:30"),
        ("10.30", False, "10:30"),
        ("ten thirty", False, "10:30"),
        ("at 3 pm", False, "15:00"),
        ("at three", False, "15:00"),
        ("3 p.m.", False, "15:00"),
        ("at 9 in the evening", False, "21:00"),
        ("12 am", False, "00:00"),
        ("half past ten", False, "10:30"),
        ("quarter to ten", False, "09:45"),
        ("10 o'clock", False, "10:00"),
        ("at noon", False, "12:00"),
        ("14:15", False, "14:15"),
        ("ten", True, "10:00"),
        ("ten", False, None),
        ("I have ten bikes", False, None),
        ("25:00", False, None),
    ],
)
def test_parse_time(text: str, asked: bool, expected: str | None) -> None:
    assert sl.parse_time(text, asked=asked) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow at ten", "2026-12-06"),
        ("today", "2026-12-05"),
        ("the day after tomorrow", "2026-12-07"),
        ("on Monday", "2026-12-07"),
        ("next friday", "2026-12-11"),
        ("saturday", "2026-12-12"),  # said on a Saturday: a week later
        ("2026-12-24", "2026-12-24"),
        ("2026-02-30", None),
        ("whenever", None),
    ],
)
def test_parse_date_relative_to_the_call(text: str, expected: str | None) -> None:
    assert sl.parse_date(text, SAT) == expected


@pytest.mark.parametrize(
    ("text", "asked", "expected"),
    [
        ("My name is Alice Smith.", False, "Alice Smith"),
        ("alice", True, "Alice"),
        ("It's Bob, thanks.", True, "Bob"),
        ("Yes, it's Jean-Luc O'Neil", True, "Jean-Luc O'Neil"),
        ("book a service tomorrow", False, None),
        ("I don't really want to tell you my name today", True, None),
        ("123", True, None),
    ],
)
def test_parse_name(text: str, asked: bool, expected: str | None) -> None:
    assert sl.parse_name(text, asked=asked) == expected


def test_yes_no_cancel() -> None:
    assert sl.is_yes("Yes please.") and sl.is_yes("That's right") and sl.is_yes("go ahead")
    assert not sl.is_yes("No, not yes") and not sl.is_yes("hmm")
    assert sl.is_no("No thanks") and sl.is_no("nope")
    assert sl.is_cancel("never mind") and sl.is_cancel("cancel that") and not sl.is_cancel("book it")


def test_spoken_forms() -> None:
    assert sl.spoken_date("2026-12-06", SAT) == "tomorrow, Sunday 6 December"
    assert sl.spoken_date("2026-12-05", SAT) == "today, Saturday 5 December"
    assert sl.spoken_date("2026-12-11", SAT) == "Friday 11 December"
    assert [sl.spoken_time(t) for t in ("10:00", "15:30", "12:00", "00:00")] == [
        "10 am",
        "3:30 pm",
        "noon",
        "12 am",
    ]
