"""Dates, clock times and numbers are spoken as words in the call's language."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.engines.spoken import english_number, spoken_text, spoken_times, turkish_cardinal, turkish_number


@pytest.mark.parametrize(
    ("text", "language", "spoken"),
    [
        ("Saat 09:30 ile 18:00 arası açığız.", "tr-TR", "Saat dokuz otuz ile on sekiz arası açığız."),
        ("Cumartesi 10:00-14:45.", "tr", "Cumartesi on-on dört kırk beş."),
        ("Open 9:00 to 18:00.", "en-US", "Open nine in the morning to six in the evening."),
        ("From 9:05 until 12:00, and 13:30.", "en-GB", "From nine oh five in the morning until noon, "
         "and one thirty in the afternoon."),
        ("Um 18:00 Uhr.", "de-DE", "Um 18:00 Uhr."),  # no words for German: the voice reads it
        ("Room 12:345, 24:00, 7:60, 12.50 euros", "en-US", "Room 12:345, 24:00, 7:60, 12.50 euros"),
    ],
)  # fmt: skip
def test_times_in_words(text: str, language: str, spoken: str) -> None:
    assert spoken_times(text, language) == spoken


def test_numbers() -> None:
    assert [turkish_number(n) for n in (0, 7, 10, 23, 59)] == [
        "sıfır",
        "yedi",
        "on",
        "yirmi üç",
        "elli dokuz",
    ]
    assert [english_number(n) for n in (0, 7, 13, 20, 45)] == [
        "zero",
        "seven",
        "thirteen",
        "twenty",
        "forty-five",
    ]


@pytest.mark.parametrize(
    ("text", "language", "spoken"),
    [
        (
            "Booked for 2026-12-07 at 10:00, reference 4512.",
            "en-US",
            "Booked for December seventh, twenty twenty-six at ten in the morning, reference four thousand, "
            "five hundred and twelve.",
        ),
        (
            "Randevunuz 07.12.2026 saat 10:30, referans 4512.",
            "tr-TR",
            "Randevunuz yedi Aralık iki bin yirmi altı saat on otuz, referans dört bin beş yüz on iki.",
        ),
        ("Visit 12 Harbour Street, 3rd floor.", "en-US", "Visit twelve Harbour Street, third floor."),
        ("Call 05321234567.", "en-US", "Call zero five three two one two three four five six seven."),
        ("Arayın: 4441000", "tr-TR", "Arayın: dört dört dört bir sıfır sıfır sıfır"),
        ("Open 9:30, 3.5 hours.", "de-DE", "Open 9:30, 3.5 hours."),  # no words for that voice here
    ],
)
def test_dates_times_and_numbers_in_words(text: str, language: str, spoken: str) -> None:
    assert spoken_text(text, language) == spoken


def test_turkish_numbers_are_separate_words() -> None:
    numbers = (0, 100, 101, 1000, 1999, 2026, 21_000, 1_000_000, 3_250_000_017)
    assert [turkish_cardinal(n) for n in numbers] == [
        "sıfır", "yüz", "yüz bir", "bin", "bin dokuz yüz doksan dokuz", "iki bin yirmi altı", "yirmi bir bin",
        "bir milyon", "üç milyar iki yüz elli milyon on yedi",
    ]  # fmt: skip


@given(st.integers(min_value=0, max_value=999_999), st.sampled_from(["en-US", "tr-TR"]))
def test_no_digit_is_left_for_the_voice(n: int, language: str) -> None:
    assert not any(c.isdigit() for c in spoken_text(f"We have {n} seats.", language))
