from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas.turn_ids import answered_utterance, early_utterance_id, is_early


def test_an_early_turn_names_the_utterance_it_answers() -> None:
    uid = "4f1c-utterance"
    assert early_utterance_id(uid, 12) == "4f1c-utterance:early:12"
    assert answered_utterance(early_utterance_id(uid, 12)) == uid and is_early(early_utterance_id(uid, 3))
    assert answered_utterance(uid) == uid and not is_early(uid)
    assert answered_utterance("call:turn:4") == "call:turn:4"
    assert answered_utterance("x:early:") == "x:early:"  # no seq: not an early id


@given(st.text(min_size=1), st.integers(min_value=0, max_value=2**40))
def test_round_trip(uid: str, seq: int) -> None:
    assert answered_utterance(early_utterance_id(uid, seq)) == uid
