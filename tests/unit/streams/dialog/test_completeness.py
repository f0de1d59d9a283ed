"""The completeness rule: which final transcripts read like a sentence the caller has not finished."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.dialog.completeness import join, looks_unfinished


@pytest.mark.parametrize(
    "text",
    [
        "My order number is",
        "My order number is.",  # Whisper's full stop after a voice that paused
        "My account number is...",
        "My name is…",
        "The delivery address was",
        "I would like to",
        "I am calling about",
        "I was wondering if",
        "I want to cancel my subscription and",
        "It is about the",
        "Could you send it to my",
        "Um, I",
        "I'm",
        "So, uh",
        "Because",
        "Can you put me through to-",
        "Could you send it to the?",  # a question mark does not finish an article
        "Could you send it to?",  # nor a preposition without a wh-word before it
        "  My phone number is  ",
        "Can you tell me?",  # what to tell must follow (turn_bench: hibari paused after it)
        "Could you send us",
        "Please remind me.",
    ],
)
def test_unfinished(text: str) -> None:
    assert looks_unfinished(text)


@pytest.mark.parametrize(
    "text",
    [
        "What are your opening hours?",
        "My order number is 4 5 6.",
        "My order number is 456",  # no terminal punctuation, but nothing dangles
        "Can you tell me where the nearest shop is?",
        "Can you tell me where the nearest shop is",  # a copula closing a wh-clause
        "Yes it is.",
        "There is.",
        "I think so.",
        "I'd like that.",
        "Yes, I can.",
        "Yes we do",
        "Where are you from?",  # a wh-question may end in a preposition
        "Who am I speaking with?",
        "Hold on.",
        "Can you help me?",
        "Please call me.",
        "Excuse me.",
        "Tell me where the nearest shop is.",
        "I need help.",  # a sentence by itself: the rule cannot know more is coming
        "and on sundays",
        "",
        "   ",
    ],
)
def test_finished(text: str) -> None:
    assert not looks_unfinished(text)


UNFINISHED_HEADS = ["My order number is", "I would like to", "Can you tell me", "I want a refund and"]


@given(
    head=st.sampled_from(UNFINISHED_HEADS),
    value=st.sampled_from(["4 5 6", "456", "check my order", "where the shop is", "John Smith"]),
    mark=st.sampled_from(["", ".", "?", "!"]),
)
def test_a_held_head_joined_with_its_value_reads_finished(head: str, value: str, mark: str) -> None:
    """What the reducer answers after a hold (the head joined with its continuation) is never held
    again: the caller is answered, not asked to wait twice."""
    assert looks_unfinished(head)
    assert not looks_unfinished(join(head + mark, value + mark))


def test_a_lone_ellipsis_trails_off() -> None:
    assert looks_unfinished("...")


def test_other_languages_get_only_the_punctuation_rules() -> None:
    assert not looks_unfinished("Mi número de pedido es el", "es-ES")
    assert looks_unfinished("Mi número de pedido es...", "es-ES")
    assert looks_unfinished("My order number is", "en-GB")


@pytest.mark.parametrize(
    ("held", "text", "joined"),
    [
        ("My order number is", "4 5 6.", "My order number is 4 5 6."),
        ("My order number is...", "456.", "My order number is 456."),
        ("My order number is.", "4-5-6.", "My order number is 4-5-6."),
        ("I am calling about,", "the invoice.", "I am calling about the invoice."),
        ("My order number is 456.", "Is it shipped?", "My order number is 456. Is it shipped?"),
        ("My order number is… ", " 4, 5, 6.", "My order number is 4, 5, 6."),
        ("I would like to -", "check my order.", "I would like to check my order."),
        ("", "Hello.", "Hello."),
        ("Hello", "  ", "Hello"),
    ],
)
def test_join(held: str, text: str, joined: str) -> None:
    assert join(held, text) == joined
