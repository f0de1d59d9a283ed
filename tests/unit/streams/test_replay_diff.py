"""The pure comparison of recorded and re-run turns: WER, what counts as a change, the summary."""

import pytest

from streams.replay_diff import TurnResult, compare, summarize, wer, word_errors


def test_word_error_rate_counts_substitutions_deletions_insertions():
    assert word_errors("what are your opening hours", "what are your opening hours") == (0, 5)
    assert word_errors("what are your opening hours", "what are you opening hours") == (1, 5)
    assert word_errors("what are your opening hours", "what your hours") == (2, 5)
    assert word_errors("opening hours", "the opening hours please") == (2, 2)
    assert wer("a b c d", "a x c") == pytest.approx(0.5)


def test_case_and_punctuation_are_not_errors():
    assert wer("Thank you, goodbye.", "thank you goodbye") == 0.0


def test_empty_reference():
    assert wer("", "") == 0.0
    assert wer("", "hello") == 1.0


def turn(uid="u1", transcript="opening hours", reply="nine to six", intent="hours", **kw):
    return TurnResult(uid, transcript, reply, intent, **kw)


def test_latencies_and_engine_names_do_not_count():
    recorded = [turn(stt_ms=900.0, dialog_ms=2.0, stt_engine="faster-whisper-base")]
    rerun = [turn(stt_ms=700.0, dialog_ms=1.0, stt_engine="other")]
    diff = compare("c1", recorded, rerun)
    assert not diff.changed
    assert str(summarize([diff])) == "1 calls, 1 turns re-run: no differences (WER 0.0%)"


def test_a_changed_reply_is_one_changed_turn():
    diff = compare(
        "c1",
        [turn(), turn("u2", "bye", "Goodbye!", "bye")],
        [turn(reply="ten to five"), turn("u2", "bye", "Goodbye!", "bye")],
    )
    (changed,) = diff.changed
    assert changed.utterance_id == "u1"
    assert changed.reply_changed and not changed.transcript_changed and not changed.decision_changed
    s = summarize([diff])
    assert (s.turns, s.changed, s.reply_changed, s.decision_changed, s.calls_changed) == (2, 1, 1, 0, 1)


def test_a_changed_transcript_has_its_wer():
    diff = compare(
        "c1", [turn()], [turn(transcript="opening hours please", intent="fallback", reply="Sorry")]
    )
    (t,) = diff.turns
    assert t.transcript_changed and t.decision_changed and t.reply_changed
    assert t.wer == pytest.approx(0.5)
    assert summarize([diff]).wer == pytest.approx(0.5)


def test_by_decision_ignores_reply_wording():
    diff = compare("c1", [turn()], [turn(reply="From nine until six.")], by_decision=True)
    assert not diff.changed


def test_missing_and_added_turns():
    diff = compare("c1", [turn("u1")], [turn("u2")])
    assert [(t.recorded is None, t.rerun is None) for t in diff.turns] == [(False, True), (True, False)]
    assert all(t.changed for t in diff.turns)


def test_a_held_turn_without_reply_on_both_sides_is_unchanged():
    diff = compare("c1", [turn(reply=None, intent=None)], [turn(reply=None, intent=None)])
    assert not diff.changed
    diff = compare("c1", [turn(reply=None, intent=None)], [turn()])
    assert diff.turns[0].decision_changed
