"""Clock times are spoken as words in the call's language."""

from __future__ import annotations

import pytest

from streams.engines.spoken import english_number, spoken_times, turkish_number


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
