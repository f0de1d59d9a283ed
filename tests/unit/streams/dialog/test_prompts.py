"""Prompt texts naming the caller: `{caller_name}` filled, or gone for an unknown caller."""

from __future__ import annotations

import pytest

from streams.dialog.prompts import BUILT_IN, with_caller


@pytest.mark.parametrize(
    ("text", "name", "said"),
    [
        ("Hello {caller_name}, how can I help?", "Alice", "Hello Alice, how can I help?"),
        ("Hello {caller_name}, how can I help?", None, "Hello, how can I help?"),
        ("Hello {caller_name}, how can I help?", "   ", "Hello, how can I help?"),
        (
            "{caller_name}, welcome back.",
            None,
            ", welcome back.",
        ),  # a text that needs a name: its author's call
        ("Hi {caller_name}!", "Ada\n  Lovelace", "Hi Ada Lovelace!"),  # whitespace folded
        ("Cost {price}, hi {caller_name}", "Bo", "Cost {price}, hi Bo"),  # no template language
        ("Plain text.", "Alice", "Plain text."),
    ],
)
def test_with_caller(text: str, name: str | None, said: str) -> None:
    assert with_caller(text, name) == said


def test_a_long_configured_name_is_cut() -> None:
    assert with_caller("{caller_name}", "x" * 500) == "x" * 60


def test_built_in_greetings_name_the_caller_and_read_as_before_without_one() -> None:
    assert (
        with_caller(BUILT_IN["en"]["greeting"], None) == "Hello, thank you for calling. How can I help you?"
    )
    assert with_caller(BUILT_IN["en"]["greeting"], "Alice").startswith("Hello Alice, thank you")
    assert with_caller(BUILT_IN["tr"]["greeting"], "Ayşe").startswith("Merhaba Ayşe, aradığınız")
