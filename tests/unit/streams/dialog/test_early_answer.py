"""The early answer: a stable partial transcript (the same finished-looking words twice in a row) starts
the answer before the final transcript, which confirms it (the same words) or discards it (other words:
its audio stopped, the final answered instead). Off unless `Policy.early_answer`."""

from __future__ import annotations

from typing import Any

from schemas import models as m
from schemas.turn_ids import EARLY_ENGINE
from streams.dialog.decisions import Decision
from streams.dialog.machine import Policy, decide, new_state
from streams.dialog.script import CallScript
from streams.dialog.state import DialogState, Phase
from tests.unit.streams.dialog.test_machine import Run, changes, commands, records

EARLY = Policy(early_answer=True)


def partial(run: Run, uid: str, text: str) -> Any:
    return run.s.fact(m.UtteranceTranscribed, utterance_id=uid, text=text, is_final=False)


def listening(policy: Policy = EARLY) -> Run:
    run = Run(policy=policy)
    run.to_listening()
    return run


def early_turn(out: list[Decision]) -> m.UtteranceTranscribed:
    [turn] = records(out, m.UtteranceTranscribed)
    assert turn.engine == EARLY_ENGINE and turn.is_final and turn.source == EARLY.source
    return turn


def test_two_equal_partials_start_the_answer_and_the_same_final_keeps_it() -> None:
    run = listening()
    run.feed(run.s.speech("u1"))
    assert run.feed(partial(run, "u1", "What are your")) == []
    assert run.feed(partial(run, "u1", "What are your opening hours?")) == []
    out = run.feed(partial(run, "u1", "what are your opening hours"))  # the same words: stable
    turn = early_turn(out)
    assert turn.text == "what are your opening hours" and changes(out) == [("LISTENING", "THINKING")]
    assert run.state.pending_utterance == turn.utterance_id and run.state.early_of == "u1"
    run.feed(run.s.replied(turn.utterance_id, "We are open nine to six."))
    assert run.state.phase == Phase.SPEAKING
    out = run.feed(run.s.captured("u1"), run.s.transcribed("u1", "What are your opening hours?"))
    assert out == [] or (changes(out) == [] and commands(out) == [])
    assert run.state.early_of is None and run.state.speech_open is None and run.state.partial is None
    # the engine's answer to the final transcript is not said twice
    assert run.feed(run.s.replied("u1", "We are open nine to six.")) == []
    assert run.state.pending_reply == f"{turn.utterance_id}:reply"


def test_a_different_final_stops_the_early_answer_and_is_answered() -> None:
    run = listening()
    run.feed(run.s.speech("u1"), partial(run, "u1", "What are your hours"))
    turn = early_turn(run.feed(partial(run, "u1", "What are your hours.")))
    run.feed(run.s.replied(turn.utterance_id, "We are open nine to six."))
    run.feed(run.s.synthesized(f"{turn.utterance_id}:reply"))
    assert run.state.playing == f"{turn.utterance_id}:reply"
    out = run.feed(run.s.transcribed("u1", "What are your hours on Sunday?"))
    [stop] = commands(out)
    assert isinstance(stop, m.StopPlayback) and stop.playback_id == f"{turn.utterance_id}:reply"
    assert run.state.pending_utterance == "u1" and run.state.early_of is None
    assert run.state.phase == Phase.THINKING
    assert run.feed(run.s.replied(turn.utterance_id, "late")) == []  # the early answer's rest: dropped
    out = run.feed(run.s.replied("u1", "Closed on Sundays."))
    assert changes(out) == [("THINKING", "SPEAKING")]


def test_more_words_in_a_later_partial_discard_the_early_answer_at_once() -> None:
    run = listening()
    run.feed(run.s.speech("u1"), partial(run, "u1", "I need help"))
    turn = early_turn(run.feed(partial(run, "u1", "I need help.")))
    out = run.feed(partial(run, "u1", "I need help with my bill"))
    assert changes(out) == [("THINKING", "LISTENING")] and run.state.pending_utterance is None
    assert run.feed(run.s.replied(turn.utterance_id, "How can I help?")) == []
    out = run.feed(run.s.transcribed("u1", "I need help with my bill."))
    assert run.state.pending_utterance == "u1" and changes(out) == [("LISTENING", "THINKING")]


def test_unfinished_or_unstable_partials_start_nothing() -> None:
    run = listening()
    run.feed(run.s.speech("u1"))
    for text in (
        "My order number is",
        "My order number is.",
        "My order number is 4",
        "My order number is 45",
    ):
        assert records(run.feed(partial(run, "u1", text)), m.UtteranceTranscribed) == []
    assert run.state.phase == Phase.LISTENING


def test_partials_of_an_older_utterance_or_while_speaking_start_nothing() -> None:
    run = listening()
    run.feed(run.s.speech("u1"), run.s.speech("u2"))  # u1's partials come late: u2 is open
    run.feed(partial(run, "u1", "What are your hours"), partial(run, "u1", "What are your hours"))
    assert run.state.phase == Phase.LISTENING and run.state.early_of is None
    # over a greeting the caller may not interrupt, the words wait for their final transcript
    run2 = Run(policy=Policy(early_answer=True, greeting_barge_in=False))
    run2.to_greeting()
    run2.feed(run2.s.speech("u9"), partial(run2, "u9", "Opening hours"), partial(run2, "u9", "Opening hours"))
    assert run2.state.early_of is None and run2.state.phase == Phase.GREETING


def test_off_by_default() -> None:
    run = listening(Policy())
    run.feed(run.s.speech("u1"), partial(run, "u1", "What are your hours"))
    assert run.feed(partial(run, "u1", "What are your hours")) == []
    assert run.state.partial is None


def test_the_early_state_round_trips_and_replays_the_same() -> None:
    script = CallScript("call-early")
    facts = [*script.setup(), script.established()]
    state, _ = new_state("call-early"), None
    for fact in facts:
        state, _ = decide(state, fact, EARLY)
    facts = [
        script.speech("u1"),
        script.fact(m.UtteranceTranscribed, utterance_id="u1", text="Opening hours?", is_final=False),
        script.fact(m.UtteranceTranscribed, utterance_id="u1", text="opening hours", is_final=False),
    ]
    runs = []
    for _ in range(2):
        s, outs = state, []
        for fact in facts:
            s, out = decide(s, fact, EARLY)
            outs.append(out)
        runs.append((s, outs))
    assert runs[0] == runs[1]
    assert DialogState.parse(bytes(runs[0][0])) == runs[0][0]
