"""The answer prepared at a pause: a partial transcript of the words up to a pause of the caller
(`pause`) that reads finished starts the answer at once, and its audio goes to the edge with
`after_utterance`, so it is heard only if the utterance then ends (the end silence decides the turn,
as without it). The edge dropping it (`caller_resumed`: the caller spoke on) leaves the final
transcript to be answered. On by default (`Policy.pause_answer`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from schemas import models as m
from schemas.turn_ids import EARLY_ENGINE
from streams.dialog.machine import CALLER_RESUMED, Policy
from streams.dialog.state import Phase
from streams.engines.dialog import HANDOFF_INTENT
from tests.unit.streams.dialog.test_machine import Run, changes, commands, records


def pause_partial(run: Run, uid: str, text: str) -> Any:
    return run.s.fact(m.UtteranceTranscribed, utterance_id=uid, text=text, is_final=False, pause=True)


def listening(policy: Policy | None = None) -> Run:
    run = Run(policy=policy or Policy())
    run.to_listening()
    return run


def prepared(run: Run, uid: str = "u1", text: str = "What are your opening hours?") -> str:
    """The caller pauses after finished words: the answer is thought of and voiced at once."""
    run.feed(run.s.speech(uid))
    out = run.feed(pause_partial(run, uid, text))
    [turn] = records(out, m.UtteranceTranscribed)
    assert turn.engine == EARLY_ENGINE and turn.is_final and changes(out) == [("LISTENING", "THINKING")]
    run.feed(run.s.replied(turn.utterance_id, "We are open nine to six."))
    return str(turn.utterance_id)


def test_finished_words_at_a_pause_are_answered_at_once_and_held_for_the_end_of_the_utterance() -> None:
    run = listening()
    turn = prepared(run)
    [play] = commands(run.feed(run.s.synthesized(f"{turn}:reply")))
    assert isinstance(play, m.PlayAudio) and play.after_utterance == "u1"
    # the utterance ended (the edge played the answer) and its final says the same words: kept
    out = run.feed(run.s.captured("u1"), run.s.transcribed("u1", "What are your opening hours?"))
    assert commands(out) == [] and run.state.early_of is None
    assert run.feed(run.s.replied("u1", "We are open nine to six.")) == []  # not said twice
    run.feed(*run.s.played(f"{turn}:reply"))
    assert run.state.phase == Phase.LISTENING


def test_audio_voiced_after_the_final_confirmed_it_plays_at_once() -> None:
    run = listening()
    turn = prepared(run)
    run.feed(run.s.captured("u1"), run.s.transcribed("u1", "What are your opening hours?"))
    [play] = commands(run.feed(run.s.synthesized(f"{turn}:reply")))
    assert isinstance(play, m.PlayAudio) and play.after_utterance is None


def test_unfinished_words_at_a_pause_start_nothing() -> None:
    run = listening()
    run.feed(run.s.speech("u1"))
    assert records(run.feed(pause_partial(run, "u1", "My order number is")), m.UtteranceTranscribed) == []
    assert run.state.phase == Phase.LISTENING and run.state.early_of is None


def test_a_plain_partial_starts_nothing_and_pause_answer_off_ignores_pauses() -> None:
    run = listening()
    run.feed(run.s.speech("u1"))
    plain = run.s.fact(m.UtteranceTranscribed, utterance_id="u1", text="Opening hours?", is_final=False)
    assert run.feed(plain) == []
    off = listening(Policy(pause_answer=False))
    off.feed(off.s.speech("u1"))
    assert off.feed(pause_partial(off, "u1", "What are your opening hours?")) == []


def test_the_caller_speaking_on_drops_the_prepared_answer_and_the_final_is_answered() -> None:
    run = listening()
    turn = prepared(run)
    run.feed(run.s.synthesized(f"{turn}:reply"))
    dropped = run.s.fact(
        m.PlaybackFinished, playback_id=f"{turn}:reply", interrupted=True, played_ms=0, reason=CALLER_RESUMED
    )
    out = run.feed(dropped)
    assert changes(out) == [("SPEAKING", "LISTENING")] and commands(out) == []
    assert run.state.early_of is None and run.state.pending_utterance is None
    # the final carries the same words (the caller only coughed): answered, since nothing was heard
    out = run.feed(run.s.captured("u1"), run.s.transcribed("u1", "What are your opening hours?"))
    assert run.state.pending_utterance == "u1" and changes(out) == [("LISTENING", "THINKING")]


def test_more_words_after_the_pause_discard_the_prepared_answer() -> None:
    run = listening()
    turn = prepared(run, text="I need help.")
    out = run.feed(
        run.s.fact(m.UtteranceTranscribed, utterance_id="u1", text="I need help with my bill", is_final=False)
    )
    assert changes(out) == [("SPEAKING", "LISTENING")]
    assert run.feed(run.s.synthesized(f"{turn}:reply")) == []  # its audio is no longer wanted
    out = run.feed(run.s.transcribed("u1", "I need help with my bill."))
    assert run.state.pending_utterance == "u1" and changes(out) == [("LISTENING", "THINKING")]


def test_a_dropped_early_goodbye_or_handoff_leads_nowhere() -> None:
    for intent, end in ((HANDOFF_INTENT, False), ("goodbye", True)):
        run = listening()
        run.state = dataclasses.replace(run.state, handoff_target="sip:desk@example.com")
        run.feed(run.s.speech("u1"))
        [turn] = records(run.feed(pause_partial(run, "u1", "Thanks, bye.")), m.UtteranceTranscribed)
        run.feed(run.s.replied(turn.utterance_id, "Goodbye!", intent=intent, end=end))
        assert run.state.handoff or run.state.phase == Phase.CLOSING
        run.feed(run.s.synthesized(f"{turn.utterance_id}:reply"))
        dropped = run.s.fact(
            m.PlaybackFinished, playback_id=f"{turn.utterance_id}:reply", interrupted=True, played_ms=0,
            reason=CALLER_RESUMED,
        )  # fmt: skip
        run.feed(dropped)
        assert run.state.phase == Phase.LISTENING and not run.state.handoff and run.state.barge_in
        # the caller's whole turn is answered as any other: no transfer, no hang-up after it
        run.feed(run.s.captured("u1"), run.s.transcribed("u1", "Thanks, bye. Oh, and one more thing?"))
        run.feed(run.s.replied("u1", "Yes?"))
        out = run.feed(run.s.synthesized("u1:reply"), *run.s.played("u1:reply"))
        assert not [c for c in commands(out) if isinstance(c, m.TransferCall | m.Hangup)]
        assert run.state.phase == Phase.LISTENING


def test_the_utterances_own_reply_stands_for_a_confirmed_early_turns() -> None:
    """A dialog-engine worker restarted between the early turn and the final forgot the early words,
    so it answers the final (reply to "u1") and never the early turn: that reply is the turn's."""
    run = listening()
    run.feed(run.s.speech("u1"))
    [turn] = records(
        run.feed(pause_partial(run, "u1", "What are your opening hours?")), m.UtteranceTranscribed
    )
    assert run.feed(run.s.replied("u1", "Too soon.")) == []  # the final has not confirmed the words yet
    run.feed(run.s.captured("u1"), run.s.transcribed("u1", "What are your opening hours?"))
    out = run.feed(run.s.replied("u1", "We are open nine to six."))
    assert run.state.pending_utterance is None and run.state.pending_reply == "u1:reply"
    [play] = commands(run.feed(run.s.synthesized("u1:reply")))
    assert isinstance(play, m.PlayAudio) and play.after_utterance is None  # the utterance has ended
    assert run.feed(run.s.replied(turn.utterance_id, "We are open nine to six.")) == []  # late: not twice
    run.feed(*run.s.played("u1:reply"))
    assert changes(out) == [("THINKING", "SPEAKING")] and run.state.phase == Phase.LISTENING
