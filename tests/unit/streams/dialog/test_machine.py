"""The dialog reducer: the declared table, every phase by every fact, and whole-call scenarios."""

from __future__ import annotations

import typing
from typing import Any

import pytest

from schemas import models as m
from streams.dialog.decisions import ArmTimer, CancelTimer, Decision, DropState, Record, Send
from streams.dialog.machine import (
    DEFAULT_POLICY,
    IGNORE,
    ILLEGAL,
    MACHINE_ENGINE,
    TABLE,
    TURN_ENGINE,
    IllegalTransition,
    Policy,
    decide,
    derived_event_id,
    dtmf_utterance_id,
    new_state,
)
from streams.dialog.prompts import with_caller
from streams.dialog.script import DEFAULTS, CallScript
from streams.dialog.state import DialogState, Phase, StateError, TimerName

P = DEFAULT_POLICY
PERSON = "sip:200@127.0.0.2"
FACTS: tuple[type[Any], ...] = typing.get_args(m.Fact)


# -- helpers ---------------------------------------------------------------------------------------


class Run:
    """Feeds a scripted call through the reducer, keeping the state and every decision."""

    def __init__(self, call_id: str = "call-1", policy: Policy = DEFAULT_POLICY) -> None:
        self.s = CallScript(call_id)
        self.state = new_state(call_id)
        self.policy = policy
        self.decisions: list[Decision] = []

    def feed(self, *facts: Any) -> list[Decision]:
        out: list[Decision] = []
        for fact in facts:
            self.state, d = decide(self.state, fact, self.policy)
            out += d
        self.decisions += out
        return out

    def said(self) -> m.AgentReplied:
        return [
            d.fact for d in self.decisions if isinstance(d, Record) and isinstance(d.fact, m.AgentReplied)
        ][-1]

    def armed(self) -> ArmTimer:
        return [d for d in self.decisions if isinstance(d, ArmTimer)][-1]

    # Walks to each phase.

    def to_greeting(self) -> None:
        self.feed(*self.s.setup(), self.s.established())

    def speak_pending(self) -> str:
        """Synthesize and play the reply the machine waits for; returns its id."""
        reply_id = self.state.pending_reply
        assert reply_id is not None
        self.feed(self.s.synthesized(reply_id), *self.s.played(reply_id))
        return reply_id

    def to_listening(self) -> None:
        self.to_greeting()
        self.speak_pending()

    def to_thinking(self, text: str = "what are your opening hours") -> str:
        self.to_listening()
        uid = f"u{self.state.turn + 1}"
        self.feed(self.s.speech(uid), self.s.captured(uid), self.s.transcribed(uid, text))
        return uid

    def to_speaking(self) -> None:
        uid = self.to_thinking()
        self.feed(self.s.replied(uid, "We are open nine to five."))

    def to_transferring(self) -> None:
        self.feed(*self.s.setup(target=PERSON), self.s.established())
        self.speak_pending()
        self.feed(self.s.dtmf("0"))
        self.speak_pending()

    def to_closing(self) -> None:
        self.to_listening()
        self.feed(self.s.dtmf("0"))

    def to(self, phase: Phase) -> None:
        {
            Phase.SETUP: lambda: self.feed(*self.s.setup()),
            Phase.GREETING: self.to_greeting,
            Phase.LISTENING: self.to_listening,
            Phase.THINKING: self.to_thinking,
            Phase.SPEAKING: self.to_speaking,
            Phase.TRANSFERRING: self.to_transferring,
            Phase.CLOSING: self.to_closing,
            Phase.ENDED: lambda: (self.to_listening(), self.feed(self.s.ended())),
        }[phase]()
        assert self.state.phase == phase


def commands(decisions: list[Decision]) -> list[Any]:
    return [d.command for d in decisions if isinstance(d, Send)]


def records(decisions: list[Decision], cls: type[Any]) -> list[Any]:
    return [d.fact for d in decisions if isinstance(d, Record) and isinstance(d.fact, cls)]


def changes(decisions: list[Decision]) -> list[tuple[str, str]]:
    return [(c.from_state, c.to_state) for c in records(decisions, m.DialogStateChanged)]


# -- the declared table ----------------------------------------------------------------------------

# Phase columns: SETUP GREETING LISTENING THINKING SPEAKING TRANSFERRING CLOSING ENDED
_g, _i = ILLEGAL, IGNORE
EXPECTED: dict[type[Any], tuple[str, ...]] = {
    m.CallInviteReceived: ("note_edge", _g, _g, _g, _g, _g, _g, _i),
    m.DialplanResolved: ("configure", _g, _g, _g, _g, _g, _g, _i),
    m.CallContextUpdated: (
        _i,
        "context_updated",
        "context_updated",
        "context_updated",
        "context_updated",
        "context_updated",
        "context_updated",
        _i,
    ),
    m.MediaPortAllocated: ("note_edge", _g, _g, _g, _g, _g, _g, _i),
    m.CallAnswered: ("note_edge", _g, _g, _g, _g, _g, _g, _i),
    m.CallEstablished: ("greet", _g, _g, _g, _g, _g, _g, _i),
    m.CallRejected: ("end", _g, _g, _g, _g, _g, _g, _i),
    m.CallCancelled: ("end", _g, _g, _g, _g, _g, _g, _i),
    m.MediaPortReleased: (_i, _g, _g, _g, _g, _g, _g, _i),
    m.CallEnded: ("end", "end", "end", "end", "end", "end", "end", _i),
    m.CallMediaUpdated: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.CallTransferred: (_i, _i, _i, _i, _i, "transferred", _i, _i),
    m.CallDegraded: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.MediaQualityReported: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.SipMessageObserved: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.RecordingFinished: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.PlaybackStarted: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.UtteranceCaptured: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.UtteranceChunkCaptured: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.DialogStateChanged: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.ActionRequested: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.ActionCompleted: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.ActionFailed: (_i, _i, _i, _i, _i, _i, _i, _i),
    m.DialogTimerFired: (_i, "timer", "timer", "timer", "timer", "timer", "timer", _i),
    m.SpeechSynthesized: (_i, *["synthesized"] * 6, _i),
    m.PlaybackFinished: (_i, *["playback_finished"] * 6, _i),
    m.AgentReplied: (_i, *["replied"] * 4, _i, _i, _i),
    m.SpeechStarted: (_g, *["speech_started"] * 4, _i, _i, _i),
    m.UtteranceTranscribed: (_i, *["transcribed"] * 4, _i, _i, _i),
    m.DtmfReceived: (_g, *["dtmf"] * 4, _i, _i, _i),
}
PHASES = list(Phase)


def test_table_covers_every_phase_and_every_fact_type() -> None:
    assert set(TABLE) == set(Phase)
    for phase in Phase:
        assert set(TABLE[phase]) == set(FACTS), phase
    assert set(EXPECTED) == set(FACTS) == set(DEFAULTS)


@pytest.mark.parametrize("phase", PHASES, ids=str)
@pytest.mark.parametrize("fact_type", FACTS, ids=lambda t: t.__name__)
def test_table_entry(phase: Phase, fact_type: type[Any]) -> None:
    assert TABLE[phase][fact_type] == EXPECTED[fact_type][PHASES.index(phase)]


@pytest.mark.parametrize("phase", PHASES, ids=str)
@pytest.mark.parametrize("fact_type", FACTS, ids=lambda t: t.__name__)
def test_every_phase_times_every_fact(phase: Phase, fact_type: type[Any]) -> None:
    run = Run()
    run.to(phase)
    before = run.state
    fact = run.s.fact(fact_type)
    entry = TABLE[phase][fact_type]
    if entry == ILLEGAL:
        with pytest.raises(IllegalTransition) as exc:
            decide(before, fact)
        assert (
            str(exc.value) == f"{fact_type.__name__} cannot happen in {phase} (call call-1, seq {fact.seq})"
        )
        return
    after, decisions = decide(before, fact)
    if entry == IGNORE:
        assert after is before
        assert decisions == []
    else:
        assert str(fact.event_id) in after.recent_ids
        # Handled once, the same fact redelivered is dropped.
        again, redecided = decide(after, fact)
        assert again is after
        assert redecided == []


# -- scenarios -------------------------------------------------------------------------------------


def test_happy_path() -> None:
    run = Run()
    assert run.feed(*run.s.setup()) == []
    assert run.state.phase == Phase.SETUP and run.state.edge == "edge-1"

    out = run.feed(run.s.established())
    greeting = run.said()
    assert greeting.text == with_caller(P.greeting, None)
    assert greeting.engine == MACHINE_ENGINE and greeting.source == "dialog"
    assert changes(out) == [("SETUP", "GREETING")]
    assert ArmTimer(TimerName.NO_REPLY, run.armed().armed_seq, P.no_reply_timeout_s) in out

    out = run.feed(run.s.synthesized(greeting.reply_id, greeting.text))
    (play,) = commands(out)
    assert isinstance(play, m.PlayAudio) and play.playback_id == greeting.reply_id and play.pcm
    assert next(d for d in out if isinstance(d, Send)).node == "edge-1"
    assert CancelTimer() in out

    out = run.feed(*run.s.played(greeting.reply_id))
    assert changes(out) == [("GREETING", "LISTENING")]
    assert run.armed().timer == TimerName.NO_INPUT

    run.feed(run.s.speech("u1"), run.s.captured("u1"))
    out = run.feed(run.s.transcribed("u1", "what are your opening hours"))
    assert changes(out) == [("LISTENING", "THINKING")]
    assert run.state.turn == 1 and run.state.pending_utterance == "u1"

    out = run.feed(run.s.replied("u1", "We are open nine to five."))
    assert changes(out) == [("THINKING", "SPEAKING")]
    out = run.feed(run.s.synthesized("u1:reply"))
    assert [type(c) for c in commands(out)] == [m.PlayAudio]
    out = run.feed(*run.s.played("u1:reply"))
    assert changes(out) == [("SPEAKING", "LISTENING")]

    run.feed(run.s.speech("u2"), run.s.transcribed("u2", "thanks, bye"))
    out = run.feed(run.s.replied("u2", "Goodbye!", end=True))
    assert changes(out) == [("THINKING", "CLOSING")]
    assert run.armed().timer == TimerName.HANGUP
    (play,) = commands(run.feed(run.s.synthesized("u2:reply")))
    assert play.barge_in is False
    out = run.feed(*run.s.played("u2:reply"))
    assert [type(c) for c in commands(out)] == [m.Hangup]
    assert commands(out)[0].reason == "dialog_complete"
    assert run.state.hangup_sent

    out = run.feed(run.s.ended(hangup_by="agent"))
    assert changes(out) == [("CLOSING", "ENDED")]
    assert out[-1] == DropState()
    assert run.state.phase == Phase.ENDED


def test_barge_in_while_playing_stops_playback_and_listens() -> None:
    run = Run()
    run.to_speaking()
    run.feed(run.s.synthesized("u1:reply"))
    assert run.state.playing == "u1:reply"
    out = run.feed(run.s.speech("u2"))
    (stop,) = commands(out)
    assert isinstance(stop, m.StopPlayback) and stop.playback_id == "u1:reply"
    assert changes(out) == [("SPEAKING", "LISTENING")]
    # The edge reports the interrupted playback; it is stale now.
    assert run.feed(*run.s.played("u1:reply", interrupted=True)) == []
    assert run.state.phase == Phase.LISTENING
    out = run.feed(run.s.transcribed("u2", "where are you"))
    assert changes(out) == [("LISTENING", "THINKING")]
    assert run.state.turn == 2


def test_barge_in_before_audio_arrives_drops_the_reply() -> None:
    run = Run()
    run.to_speaking()
    out = run.feed(run.s.speech("u2"))
    assert commands(out) == []
    assert changes(out) == [("SPEAKING", "LISTENING")]
    assert run.feed(run.s.synthesized("u1:reply")) == []  # late audio of the dropped reply
    assert run.state.phase == Phase.LISTENING


def test_barge_in_during_greeting() -> None:
    run = Run()
    run.to_greeting()
    greeting = run.said()
    run.feed(run.s.synthesized(greeting.reply_id))
    out = run.feed(run.s.speech("u1"))
    assert [type(c) for c in commands(out)] == [m.StopPlayback]
    assert changes(out) == [("GREETING", "LISTENING")]


def test_transcript_during_speech_interrupts() -> None:
    run = Run()
    run.to_speaking()
    run.feed(run.s.synthesized("u1:reply"))
    out = run.feed(run.s.transcribed("u2", "and on sundays"))
    assert [type(c) for c in commands(out)] == [m.StopPlayback]
    assert changes(out) == [("SPEAKING", "THINKING")]


def test_newer_utterance_supersedes_the_one_being_answered() -> None:
    run = Run()
    run.to_thinking()
    run.feed(run.s.transcribed("u2", "actually, where are you"))
    assert run.state.pending_utterance == "u2"
    assert run.feed(run.s.replied("u1", "We are open nine to five.")) == []
    out = run.feed(run.s.replied("u2", "We are at 1 Main Street."))
    assert changes(out) == [("THINKING", "SPEAKING")]


def test_two_no_input_timeouts_reprompt_then_goodbye_then_hangup() -> None:
    run = Run()
    run.to_listening()
    first = run.armed()
    out = run.feed(run.s.timer(str(first.timer), first.armed_seq))
    assert run.said().text == P.reprompt and run.said().intent == "reprompt"
    assert changes(out) == [("LISTENING", "SPEAKING")]
    run.speak_pending()
    assert run.state.phase == Phase.LISTENING
    second = run.armed()
    assert second.timer == TimerName.NO_INPUT and second.armed_seq > first.armed_seq
    out = run.feed(run.s.timer("no_input", second.armed_seq))
    assert run.said().text == P.goodbye_no_input and run.said().end_conversation
    assert changes(out) == [("LISTENING", "CLOSING")]
    reply_id = run.state.pending_reply
    assert reply_id is not None
    assert [type(c) for c in commands(run.feed(run.s.synthesized(reply_id)))] == [m.PlayAudio]
    out = run.feed(*run.s.played(reply_id))
    assert [type(c) for c in commands(out)] == [m.Hangup]


def test_speech_resets_reprompt_count() -> None:
    run = Run()
    run.to_listening()
    run.feed(run.s.timer("no_input", run.armed().armed_seq))
    run.speak_pending()
    run.feed(run.s.transcribed("u1", "hello"), run.s.replied("u1", "hi"))
    run.speak_pending()
    run.feed(run.s.timer("no_input", run.armed().armed_seq))
    assert run.said().intent == "reprompt"


def test_stale_timers_are_ignored() -> None:
    run = Run()
    run.to_listening()
    armed = run.armed()
    run.feed(run.s.speech("u1"))  # re-arms
    assert run.feed(run.s.timer("no_input", armed.armed_seq)) == []
    assert run.feed(run.s.timer("no_reply", run.armed().armed_seq)) == []  # wrong name
    assert run.state.phase == Phase.LISTENING


def test_no_reply_timeout_in_thinking_apologizes() -> None:
    run = Run()
    run.to_thinking()
    out = run.feed(run.s.timer("no_reply", run.armed().armed_seq))
    assert run.said().text == P.sorry
    assert changes(out) == [("THINKING", "SPEAKING")]
    assert run.feed(run.s.replied("u1", "late answer")) == []


def test_missing_audio_falls_back_to_listening() -> None:
    run = Run()
    run.to_greeting()
    out = run.feed(run.s.timer("no_reply", run.armed().armed_seq))
    assert changes(out) == [("GREETING", "LISTENING")]
    assert run.armed().timer == TimerName.NO_INPUT


def test_hangup_timer_when_goodbye_never_finishes() -> None:
    run = Run()
    run.to_closing()
    out = run.feed(run.s.timer("hangup", run.armed().armed_seq))
    (hangup,) = commands(out)
    assert isinstance(hangup, m.Hangup) and hangup.reason == "dialog_timeout"


def test_dtmf_zero_says_goodbye_then_hangs_up() -> None:
    run = Run()
    run.to_speaking()
    run.feed(run.s.synthesized("u1:reply"))
    out = run.feed(run.s.dtmf("0"))
    assert [type(c) for c in commands(out)] == [m.StopPlayback]
    assert run.said().text == P.goodbye_dtmf
    assert changes(out) == [("SPEAKING", "CLOSING")]
    assert run.feed(run.s.speech("u9"), run.s.dtmf("5")) == []  # no way back
    reply_id = run.state.pending_reply
    assert reply_id is not None
    run.feed(run.s.synthesized(reply_id))
    assert [type(c) for c in commands(run.feed(*run.s.played(reply_id)))] == [m.Hangup]


def test_other_digits_go_to_the_engine_as_text() -> None:
    run = Run()
    run.to_listening()
    digit = run.s.dtmf("5")
    out = run.feed(digit)
    (heard,) = records(out, m.UtteranceTranscribed)
    assert heard.text == "5" and heard.engine == "dtmf" and heard.source == "dialog"
    assert heard.utterance_id == dtmf_utterance_id("call-1", digit.seq)
    assert changes(out) == [("LISTENING", "THINKING")]
    assert run.feed(heard) == []  # its own record, echoed back by the call topic
    out = run.feed(run.s.replied(heard.utterance_id, "You pressed five."))
    assert changes(out) == [("THINKING", "SPEAKING")]


@pytest.mark.parametrize("phase", [p for p in PHASES if p != Phase.ENDED], ids=str)
def test_early_hangup_in_every_phase(phase: Phase) -> None:
    run = Run()
    run.to(phase)
    had_timer = run.state.timer is not None
    out = run.feed(run.s.ended())
    assert out[-1] == DropState()
    assert (CancelTimer() in out) == had_timer
    if phase == Phase.SETUP:
        assert out == [DropState()]
    else:
        assert changes(out) == [(str(phase), "ENDED")]
        assert commands(out) == []
    assert run.feed(run.s.fact(m.MediaPortReleased)) == []


@pytest.mark.parametrize("cls", [m.CallRejected, m.CallCancelled])
def test_call_that_never_connects_leaves_no_state(cls: type[Any]) -> None:
    run = Run()
    run.feed(run.s.fact(m.CallInviteReceived))
    assert run.feed(run.s.fact(cls)) == [DropState()]


def test_dialplan_without_agent_keeps_the_dialog_out() -> None:
    run = Run()
    run.feed(*run.s.setup(action="transfer"))
    assert run.feed(run.s.established()) == [DropState()]


def _happy_facts() -> list[Any]:
    """A whole call as the log would hold it, speech workers answering what the machine asked."""
    run = Run()
    facts: list[Any] = [*run.s.setup(), run.s.established()]
    run.feed(*facts)

    def play() -> None:
        rid = run.state.pending_reply
        assert rid is not None
        more = [run.s.synthesized(rid), *run.s.played(rid)]
        run.feed(*more)
        facts.extend(more)

    play()
    for i, (text, end) in enumerate([("opening hours", False), ("where", False), ("bye", True)], 1):
        uid = f"u{i}"
        more = [run.s.speech(uid), run.s.captured(uid), run.s.transcribed(uid, text)]
        run.feed(*more)
        facts.extend(more)
        reply = run.s.replied(uid, f"answer {i}", end=end)
        run.feed(reply)
        facts.append(reply)
        play()
    facts.append(run.s.ended())
    return facts


def _decide_all(facts: list[Any], state: DialogState | None = None) -> tuple[DialogState, list[Decision]]:
    state = state or new_state("call-1")
    out: list[Decision] = []
    for fact in facts:
        state, d = decide(state, fact)
        out += d
    return state, out


def test_every_fact_delivered_twice_gives_the_same_decisions() -> None:
    facts = _happy_facts()
    once = _decide_all(facts)
    twice = _decide_all([f for f in facts for _ in range(2)])
    assert twice == once


def test_redelivered_batch_after_rebalance_is_ignored() -> None:
    facts = _happy_facts()
    state, _ = _decide_all(facts[:15])
    again, decisions = _decide_all(facts[5:15], state)
    assert decisions == []
    assert again == state


def test_machine_ignores_its_own_records() -> None:
    facts = _happy_facts()
    state, decisions = _decide_all(facts[:9])
    own = [d.fact for d in decisions if isinstance(d, Record)]
    assert own
    assert _decide_all(own, state) == (state, [])


@pytest.mark.parametrize("cut", range(len(_happy_facts()) + 1))
def test_restart_from_serialized_state_gives_identical_decisions(cut: int) -> None:
    facts = _happy_facts()
    straight = _decide_all(facts)
    state, first = _decide_all(facts[:cut])
    restored = DialogState.parse(bytes(state))
    assert restored == state
    final, rest = _decide_all(facts[cut:], restored)
    assert (final, first + rest) == straight


def test_decisions_are_deterministic() -> None:
    a = _decide_all(_happy_facts())
    b = _decide_all(_happy_facts())
    assert a == b
    fact_ids = [d.fact.event_id for d in a[1] if isinstance(d, Record)]
    assert fact_ids[0] == derived_event_id("call-1", "dialog", 1)
    assert len(set(fact_ids)) == len(fact_ids)


def test_wrong_call_and_non_facts_are_rejected() -> None:
    run = Run()
    other = CallScript("call-2").fact(m.CallInviteReceived)
    with pytest.raises(
        IllegalTransition, match=r"^fact for call call-2 applied to the state of call call-1$"
    ):
        decide(run.state, other)
    cmd = m.Hangup(
        **{k: getattr(other, k) for k in ("event_id", "seq", "occurred_at", "source", "trace_id")},
        call_id="call-1",
    )
    with pytest.raises(IllegalTransition, match=r"^Hangup is not a call fact$"):
        decide(run.state, cmd)


def test_state_round_trip_keeps_unknown_fields() -> None:
    run = Run()
    run.to_thinking()
    data = run.state.to_json() | {"future_field": 7}
    restored = DialogState.from_json(data)
    assert restored == run.state
    assert restored.to_json()["future_field"] == 7


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "invalid dialog state: not JSON: "),
        (b"[]", "invalid dialog state: not a JSON object"),
        (b'{"phase": "LISTENING"}', "invalid dialog state: TypeError: "),
        (b'{"call_id": "c", "phase": "DANCING"}', "invalid dialog state: ValueError: "),
        (b'{"call_id": ""}', "invalid dialog state: call_id missing"),
    ],
)
def test_state_parse_errors(data: bytes, message: str) -> None:
    with pytest.raises(StateError) as exc:
        DialogState.parse(data)
    assert str(exc.value).startswith(message)


# -- unfinished sentences: hold, join, fall back ---------------------------------------------------


def _say(run: Run, uid: str, text: str) -> list[Decision]:
    """The caller speaks one utterance and its final transcript arrives."""
    return run.feed(run.s.speech(uid), run.s.captured(uid), run.s.transcribed(uid, text))


def _turns(decisions: list[Decision]) -> list[m.UtteranceTranscribed]:
    return records(decisions, m.UtteranceTranscribed)


def test_unfinished_transcript_is_held_not_answered() -> None:
    run = Run()
    run.to_listening()
    out = _say(run, "u1", "My order number is")
    assert run.state.phase == Phase.LISTENING and changes(out) == []
    assert run.state.held_text == "My order number is"
    assert run.state.pending_utterance is None and run.state.turn == 0
    assert _turns(out) == [] and commands(out) == []
    assert run.armed() == ArmTimer(TimerName.TURN_HOLD, run.state.out_seq, P.turn_hold_s)


def test_next_utterance_is_joined_and_answered_once() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is")
    run.feed(run.s.speech("u2"))  # the caller goes on: wait for their words, not the hold timer
    assert run.state.timer is not None and run.state.timer.name == TimerName.NO_INPUT
    out = run.feed(run.s.captured("u2"), run.s.transcribed("u2", "4 5 6."))
    [turn] = _turns(out)
    assert turn.text == "My order number is 4 5 6."
    assert turn.engine == TURN_ENGINE and turn.is_final and turn.source == P.source
    assert run.state.pending_utterance == turn.utterance_id != "u2"
    assert run.state.held_text is None and run.state.turn == 1
    assert changes(out) == [("LISTENING", "THINKING")]
    # The engine answers the joined turn; any answer to a fragment alone is not the caller's turn.
    assert run.feed(run.s.replied("u2", "Sorry?")) == []
    assert run.feed(run.s.replied("u1", "Sorry?")) == []
    out = run.feed(run.s.replied(turn.utterance_id, "Order 456 ships today."))
    assert changes(out) == [("THINKING", "SPEAKING")]


def test_several_unfinished_parts_are_joined() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "I would like to")
    _say(run, "u2", "check the status of")
    assert run.state.held_text == "I would like to check the status of"
    [turn] = _turns(_say(run, "u3", "my order."))
    assert turn.text == "I would like to check the status of my order."


def test_hold_timer_answers_what_was_said() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is...")
    hold = run.armed()
    out = run.feed(run.s.timer(str(hold.timer), hold.armed_seq))
    [turn] = _turns(out)
    assert turn.text == "My order number is..." and turn.engine == TURN_ENGINE
    assert run.state.pending_utterance == turn.utterance_id and run.state.held_text is None
    assert changes(out) == [("LISTENING", "THINKING")]
    assert run.armed().timer == TimerName.NO_REPLY
    # a later fragment of the caller is a turn of its own, answered at once as before
    out = run.feed(run.s.transcribed("u2", "four five six."))
    assert _turns(out) == [] and run.state.pending_utterance == "u2"


def test_stale_hold_timer_after_the_join_is_ignored() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is")
    hold = run.armed()
    _say(run, "u2", "456.")
    before = run.state
    assert run.feed(run.s.timer(str(hold.timer), hold.armed_seq)) == []
    assert run.state.pending_utterance == before.pending_utterance


def test_noise_while_holding_rearms_the_hold() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is")
    out = _say(run, "u2", "  ")
    assert run.state.held_text == "My order number is"
    assert [d for d in out if isinstance(d, ArmTimer)][-1].timer == TimerName.TURN_HOLD


def test_speech_that_never_becomes_a_transcript_still_gets_the_held_words_answered() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is")
    run.feed(run.s.speech("u2"))
    no_input = run.armed()
    assert no_input.timer == TimerName.NO_INPUT
    [turn] = _turns(run.feed(run.s.timer(str(no_input.timer), no_input.armed_seq)))
    assert turn.text == "My order number is" and run.state.phase == Phase.THINKING
    assert run.state.reprompts == 0


def test_finished_transcript_is_answered_at_once() -> None:
    run = Run()
    run.to_listening()
    out = _say(run, "u1", "My order number is 456.")
    assert _turns(out) == [] and run.state.pending_utterance == "u1"
    assert changes(out) == [("LISTENING", "THINKING")]


def test_hold_off_answers_every_transcript_at_once() -> None:
    run = Run(policy=Policy(turn_hold_s=0))
    run.to_listening()
    _say(run, "u1", "My order number is")
    assert run.state.pending_utterance == "u1" and run.state.phase == Phase.THINKING


def test_unfinished_words_during_a_reply_stop_it_and_hold() -> None:
    run = Run()
    run.to_speaking()
    run.feed(run.s.synthesized("u1:reply"))
    out = run.feed(run.s.transcribed("u2", "and my"))
    assert [type(c) for c in commands(out)] == [m.StopPlayback]
    assert changes(out) == [("SPEAKING", "LISTENING")] and run.state.held_text == "and my"


def test_unfinished_words_while_thinking_supersede_the_question() -> None:
    run = Run()
    uid = run.to_thinking()
    out = run.feed(run.s.transcribed("u2", "actually, my order number is"))
    assert changes(out) == [("THINKING", "LISTENING")] and run.state.pending_utterance is None
    assert run.feed(run.s.replied(uid, "We are open nine to five.")) == []
    [turn] = _turns(_say(run, "u3", "456."))
    assert turn.text == "actually, my order number is 456."


def test_dtmf_drops_the_held_words() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is")
    [turn] = _turns(run.feed(run.s.dtmf("4")))
    assert turn.text == "4" and turn.engine == "dtmf" and run.state.held_text is None


def test_words_during_an_uninterruptible_greeting_are_kept_for_later() -> None:
    run = Run(policy=Policy(greeting_barge_in=False))
    run.to_greeting()
    out = run.feed(run.s.transcribed("u1", "Hi, my order number is"))
    assert commands(out) == [] and changes(out) == [] and _turns(out) == []
    assert run.state.phase == Phase.GREETING and run.state.held_text == "Hi, my order number is"
    run.feed(run.s.transcribed("u2", "456."))  # finished, but still over the greeting: kept too
    assert run.state.held_text == "Hi, my order number is 456."
    run.speak_pending()
    assert run.state.phase == Phase.LISTENING
    [turn] = _turns(_say(run, "u3", "Is it shipped?"))
    assert turn.text == "Hi, my order number is 456. Is it shipped?"


def test_held_state_round_trips() -> None:
    run = Run()
    run.to_listening()
    _say(run, "u1", "My order number is")
    again = DialogState.parse(bytes(run.state))
    assert again == run.state and again.timer is not None and again.timer.name == TimerName.TURN_HOLD


def test_a_slow_transcript_while_the_caller_speaks_again_waits_for_their_words() -> None:
    run = Run()
    run.to_listening()
    run.feed(run.s.speech("u1"), run.s.captured("u1"))
    run.feed(run.s.speech("u2"))  # the caller resumed before the first part's transcript came
    run.feed(run.s.transcribed("u1", "My order number is"))
    assert run.state.held_text == "My order number is" and run.state.speech_open == "u2"
    assert run.armed().timer == TimerName.NO_INPUT  # not the short hold: they are talking
    [turn] = _turns(run.feed(run.s.captured("u2"), run.s.transcribed("u2", "456.")))
    assert turn.text == "My order number is 456." and run.state.speech_open is None


def test_a_finished_transcript_after_the_caller_spoke_again_is_joined_with_their_words() -> None:
    """ "I need help" … "with my bill": the endpointer cut a pause that the text cannot tell from a
    finished sentence, but the caller was speaking again before its transcript came."""
    run = Run()
    run.to_listening()
    run.feed(run.s.speech("u1"), run.s.captured("u1"))
    run.feed(run.s.speech("u2"))
    out = run.feed(run.s.transcribed("u1", "I need help."))
    assert changes(out) == [] and commands(out) == [] and run.state.pending_utterance is None
    assert run.state.held_text == "I need help."
    assert run.armed() == ArmTimer(TimerName.TURN_HOLD, run.state.out_seq, P.resume_wait_s)
    assert run.feed(run.s.replied("u1", "How can I help?")) == []  # an answer to the half: not played
    [turn] = _turns(run.feed(run.s.captured("u2"), run.s.transcribed("u2", "with my bill.")))
    assert turn.text == "I need help. with my bill." and run.state.pending_utterance == turn.utterance_id
    assert run.feed(run.s.replied("u2", "Sorry?")) == []


def test_speech_that_never_becomes_a_transcript_releases_the_finished_words_soon() -> None:
    run = Run()
    run.to_listening()
    run.feed(run.s.speech("u1"), run.s.captured("u1"), run.s.speech("u2"))  # u2: a breath, dropped
    run.feed(run.s.transcribed("u1", "I need help."))
    wait = run.armed()
    [turn] = _turns(run.feed(run.s.timer(str(wait.timer), wait.armed_seq)))
    assert turn.text == "I need help." and run.state.phase == Phase.THINKING


def test_a_finished_transcript_with_nobody_speaking_is_answered_at_once() -> None:
    run = Run()
    run.to_listening()
    run.feed(run.s.speech("u1"), run.s.captured("u1"))
    out = run.feed(run.s.transcribed("u1", "I need help."))
    assert changes(out) == [("LISTENING", "THINKING")] and run.state.pending_utterance == "u1"


def test_without_a_hold_a_caller_speaking_again_does_not_delay_the_answer() -> None:
    run = Run(policy=Policy(turn_hold_s=0))
    run.to_listening()
    run.feed(run.s.speech("u1"), run.s.captured("u1"), run.s.speech("u2"))
    run.feed(run.s.transcribed("u1", "I need help."))
    assert run.state.pending_utterance == "u1" and run.state.phase == Phase.THINKING


# -- streamed replies: pieces of one reply spoken while the engine writes on ------------------------


def _piece(run: Run, uid: str, part: int, text: str) -> Any:
    return run.s.fact(
        m.AgentReplied, reply_id=f"{uid}:reply", utterance_id=uid, text=text, final=False, part=part
    )


def _final(run: Run, uid: str, text: str, parts: int, rest: str | None, *, end: bool = False) -> Any:
    return run.s.fact(
        m.AgentReplied, reply_id=f"{uid}:reply", utterance_id=uid, text=text, intent="llm",
        end_conversation=end, part=parts, rest=rest,
    )  # fmt: skip


def _audio(run: Run, uid: str, part: int, *, last: bool = False, pcm: bytes = b"\x01\x00" * 80) -> Any:
    return run.s.fact(m.SpeechSynthesized, reply_id=f"{uid}:reply", text="x", part=part, last=last, pcm=pcm)


def test_streamed_reply_plays_its_first_sentence_before_the_rest_is_written() -> None:
    run = Run()
    uid = run.to_thinking()
    out = run.feed(_piece(run, uid, 0, "We open at nine thirty."))
    assert changes(out) == [("THINKING", "SPEAKING")]
    assert run.state.pending_reply == f"{uid}:reply" and run.state.pending_utterance == uid
    (play,) = commands(run.feed(_audio(run, uid, 0)))
    assert isinstance(play, m.PlayAudio) and play.playback_id == f"{uid}:reply#0" and play.barge_in
    assert run.state.streaming and run.state.playing == f"{uid}:reply#0"
    assert commands(run.feed(_piece(run, uid, 1, "We close at six."))) == []
    (play,) = commands(run.feed(_audio(run, uid, 1)))
    assert play.playback_id == f"{uid}:reply#1"
    # The first piece ends while the second plays: not the end of the reply.
    assert run.feed(*run.s.played(f"{uid}:reply#0")) == []
    out = run.feed(
        _final(run, uid, "We open at nine thirty. We close at six. Bye for now.", 2, "Bye for now.")
    )
    assert changes(out) == [] and run.state.pending_utterance is None
    (play,) = commands(run.feed(_audio(run, uid, 2, last=True)))
    assert play.playback_id == f"{uid}:reply#2" and not run.state.streaming
    assert run.feed(*run.s.played(f"{uid}:reply#1")) == []
    out = run.feed(*run.s.played(f"{uid}:reply#2"))
    assert changes(out) == [("SPEAKING", "LISTENING")]
    assert run.armed().timer == TimerName.NO_INPUT


def test_barge_in_during_a_streamed_reply_stops_every_piece_and_drops_the_rest() -> None:
    run = Run()
    uid = run.to_thinking()
    run.feed(_piece(run, uid, 0, "We open at nine thirty."), _audio(run, uid, 0))
    run.feed(_piece(run, uid, 1, "We close at six."), _audio(run, uid, 1))
    out = run.feed(run.s.speech("u9"))
    (stop,) = commands(out)
    assert isinstance(stop, m.StopPlayback) and stop.playback_id == f"{uid}:reply"  # the whole family
    assert changes(out) == [("SPEAKING", "LISTENING")]
    assert run.state.pending_utterance is None and not run.state.streaming
    # What the engine and TTS still produce for the interrupted reply is stale.
    late = [
        _piece(run, uid, 2, "And on Sundays we rest."),
        _final(run, uid, "We open. We close. Rest.", 3, "Rest."),
        _audio(run, uid, 2),
        _audio(run, uid, 3, last=True),
        *run.s.played(f"{uid}:reply#1", interrupted=True),
    ]
    assert commands(run.feed(*late)) == []
    assert run.state.phase == Phase.LISTENING


def test_streamed_reply_whose_pieces_said_everything_ends_with_the_last_piece_played() -> None:
    run = Run()
    uid = run.to_thinking()
    run.feed(_piece(run, uid, 0, "We open at nine thirty."), _audio(run, uid, 0))
    run.feed(_final(run, uid, "We open at nine thirty.", 1, ""))
    assert commands(run.feed(_audio(run, uid, 1, last=True, pcm=b""))) == []  # nothing left to play
    out = run.feed(*run.s.played(f"{uid}:reply#0"))
    assert changes(out) == [("SPEAKING", "LISTENING")]


def test_streamed_reply_slower_than_its_audio_ends_when_its_empty_end_arrives() -> None:
    run = Run()
    uid = run.to_thinking()
    run.feed(_piece(run, uid, 0, "We open at nine thirty."), _audio(run, uid, 0))
    assert run.feed(*run.s.played(f"{uid}:reply#0")) == []  # played out; the engine writes on
    assert run.state.phase == Phase.SPEAKING and run.state.playing is None
    run.feed(_final(run, uid, "We open at nine thirty. Goodbye.", 1, "", end=True))
    assert run.state.phase == Phase.CLOSING
    (hangup,) = commands(run.feed(_audio(run, uid, 1, last=True, pcm=b"")))
    assert isinstance(hangup, m.Hangup)


def test_streamed_reply_whose_rest_never_comes_ends_with_what_was_said() -> None:
    run = Run()
    uid = run.to_thinking()
    run.feed(_piece(run, uid, 0, "We open at nine thirty."), _audio(run, uid, 0))
    timer = run.armed()
    assert timer.timer == TimerName.NO_REPLY
    assert commands(run.feed(run.s.timer(TimerName.NO_REPLY, timer.armed_seq))) == []  # still playing
    assert not run.state.streaming and run.state.pending_utterance is None
    out = run.feed(*run.s.played(f"{uid}:reply#0"))
    assert changes(out) == [("SPEAKING", "LISTENING")]
