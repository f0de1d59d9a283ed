"""The sentence splitter: exact concatenation, token-independent cuts, and the usual traps."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.engines.sentences import SentenceSplitter, split_sentences

ANSWER = "We are open from 9.30 to 18:00 on weekdays. Dr. Smith sees patients on Mondays! Call us any time."


def fed(pieces: list[str], min_chars: int = 20) -> list[str]:
    splitter = SentenceSplitter(min_chars)
    out = [chunk for piece in pieces for chunk in splitter.feed(piece)]
    return out + splitter.flush()


def test_three_sentences() -> None:
    assert split_sentences(ANSWER) == [
        "We are open from 9.30 to 18:00 on weekdays. ",
        "Dr. Smith sees patients on Mondays! ",
        "Call us any time.",
    ]


def test_a_sentence_is_returned_once_the_next_one_starts() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("We are open from nine to six today.") == []
    assert splitter.feed(" ") == []  # the next word decides ("today. and ..." would not end it)
    assert splitter.feed("Call") == ["We are open from nine to six today. "]
    assert splitter.pending == "Call"
    assert splitter.flush() == ["Call"]
    assert splitter.flush() == []


def test_numbers_abbreviations_initials_and_lower_case_do_not_end_a_sentence() -> None:
    for text in (
        "The price is 3.50 euros for the small box and 9.30 for the big one.",
        "Please ask for Mr. Jones or Prof. Adams at the front desk today.",
        "Our director J. Doe will call you back tomorrow morning.",
        "Bring a document, e.g. your passport or an identity card.",
        "Well... we could try that on Tuesday afternoon instead.",
        "Visit example.com for the full list of our opening hours.",
    ):
        assert split_sentences(text) == [text], text


def test_ellipsis_and_question_marks_before_a_capital_end_a_sentence() -> None:
    assert split_sentences("Let me think about that one... Yes, we deliver on Sundays too.") == [
        "Let me think about that one... ",
        "Yes, we deliver on Sundays too.",
    ]
    assert split_sentences("Would you like me to book it for you? I can do that now.") == [
        "Would you like me to book it for you? ",
        "I can do that now.",
    ]
    assert split_sentences("Today we close early, at 6 p.m. Call us before then please.") == [
        "Today we close early, at 6 p.m. ",
        "Call us before then please.",
    ]


def test_short_sentences_are_merged_with_the_next() -> None:
    assert split_sentences("Sure. Yes. We are open until six o'clock tonight. Bye.") == [
        "Sure. Yes. We are open until six o'clock tonight. ",
        "Bye.",
    ]
    assert split_sentences("Sure. Yes.", min_chars=1) == ["Sure. ", "Yes."]


_text = st.text(alphabet=st.sampled_from(list("ab AB.9!?…\n\"')")), max_size=120)


@given(_text, st.data(), st.integers(min_value=0, max_value=30))
def test_chunks_concatenate_to_the_text_whatever_the_tokens(
    text: str, data: st.DataObject, min_chars: int
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=len(text)), max_size=12)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    chunks = fed(pieces, min_chars)
    assert "".join(chunks) == text
    assert chunks == split_sentences(text, min_chars)  # token boundaries never move a cut
    assert all(chunk for chunk in chunks)
    assert all(len(chunk.strip()) >= min_chars for chunk in chunks[:-1])


@given(st.lists(st.text(max_size=15), max_size=20))
def test_any_unicode_stream_concatenates(pieces: list[str]) -> None:
    assert "".join(fed(pieces)) == "".join(pieces)
