"""The dialog state machine: a pure, deterministic reducer `decide(state, fact) -> (state, decisions)`.

No I/O, no clock, no randomness: every id the machine mints derives from the call id and its own
sequence numbers, and every timestamp is the triggering fact's, so re-running it over a call's
recorded facts (`streams.replay_dialog`) reproduces its decisions exactly.

The transition table `TABLE` declares, for every phase and every fact type, one of:

- a handler name: the fact drives the dialog (the handler may still find it stale, e.g. audio for a
  reply that a barge-in cancelled, and then only remembers having seen it);
- `IGNORE`: legitimate here but not the dialog's business (quality reports, audio for the STT worker,
  stragglers after the call ended); the state is returned unchanged, so nothing is written;
- `ILLEGAL`: cannot happen in this phase; `decide` raises `IllegalTransition` and the agent logs
  and drops the fact.

Redelivered facts (Faust redelivers after rebalances) are dropped before the table is consulted: an
edge fact whose `seq` is not above the highest seen from the owning edge, or any fact whose `event_id`
is among the last few seen. Facts the machine recorded itself come back on the call topic and are
ignored by their `source`.

The speech work is driven by facts on the call topic: the STT worker answers every
`UtteranceCaptured`, the dialog engine every `UtteranceTranscribed`, TTS every `AgentReplied`. The
machine decides whether the flow proceeds: it follows only the utterance it is thinking about
(`pending_utterance`), plays only the reply it is waiting for (`pending_reply`), and the prompts it
says itself (greeting, reprompt, goodbye) are `AgentReplied` facts it records, for TTS to voice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Final

from schemas import models as m
from schemas.envelope import DEFAULT_TENANT
from schemas.playback_ids import family_of, piece_playback_id
from schemas.turn_ids import EARLY_ENGINE, answered_utterance, early_utterance_id, is_early
from streams.dialog.completeness import join, looks_unfinished, normalized
from streams.dialog.context import context_values
from streams.dialog.decisions import ArmTimer, CancelTimer, Decision, DropState, Record, Send
from streams.dialog.language import is_auto, settled_language, spoken_language
from streams.dialog.prompts import EMPTY_BOOK, PromptBook, prompt_text, with_caller
from streams.dialog.state import RECENT_IDS, DialogState, Phase, Timer, TimerName
from streams.engines.dialog import FALLBACK_INTENT, HANDOFF_INTENT

ID_NAMESPACE: Final = uuid.UUID("5b0e2f3c-8a41-4c7e-9d2a-6f1e3c0b7a55")
MACHINE_ENGINE: Final = "dialog-machine"
DTMF_ENGINE: Final = "dtmf"
TURN_ENGINE: Final = "turn"
"""`engine` of the transcript the machine records for a caller's turn it held: the joined text."""
CALLER_RESUMED: Final = "caller_resumed"
"""`PlaybackFinished.reason` of an early answer the edge dropped: the caller spoke on after the pause."""
IGNORE: Final = "ignore"
ILLEGAL: Final = "illegal"


class IllegalTransition(ValueError):
    """A fact that cannot happen in the call's current dialog phase."""


@dataclass(frozen=True, slots=True)
class Policy:
    """What the machine says and how long it waits. Part of the input: replay must use the same."""

    source: str = "dialog"
    """`source` of the records the machine makes; facts from it are its own echoes."""
    greeting: str = "Hello {caller_name}, thank you for calling. How can I help you?"
    reprompt: str = "Sorry, I didn't hear anything. How can I help you?"
    goodbye_no_input: str = "I still can't hear you. Please call again later. Goodbye."
    goodbye_dtmf: str = "Thank you for calling. Goodbye."
    sorry: str = "Sorry, I'm having trouble answering right now. Could you say that again?"
    no_input_timeout_s: float = 8.0
    no_reply_timeout_s: float = 15.0
    closing_timeout_s: float = 20.0
    max_reprompts: int = 1
    exit_digit: str = "0"
    greeting_barge_in: bool = True
    turn_hold_s: float = 0.8
    """How long a transcript that looks unfinished (`streams.dialog.completeness`) is held for the
    caller's next words before it is answered as it is; 0: answer every transcript at once."""
    resume_wait_s: float = 3.0
    """How long a finished-looking transcript, held because the caller was already speaking again,
    waits for that speech's transcript before it is answered alone."""
    early_answer: bool = False
    """Answer a caller's words before their final transcript, once two partial transcripts in a row
    say the same finished-looking words; the final transcript confirms the answer, or (other words)
    stops it and is answered instead."""
    pause_answer: bool = True
    """Prepare the answer to a partial transcript of the words up to a pause of the caller (`pause`)
    when they read finished, as an early answer whose audio the edge holds until the utterance ends
    (`PlayAudio.after_utterance`) and drops if the caller speaks on."""
    handoff_digit: str = "0"
    """With a handoff target, this key asks for a person (before `exit_digit` is considered)."""
    max_misunderstood: int = 2
    """With a handoff target, the caller goes to a person after this many replies in a row that did
    not understand them; 0: never."""
    handoff_hold: str = "Please hold while I connect you to a colleague."
    handoff_unavailable: str = (
        "I'm sorry, there is nobody available to take your call right now. "
        "Is there anything else I can help with?"
    )
    handoff_failed: str = "I'm sorry, I couldn't connect you. Is there anything else I can help with?"
    transfer_timeout_s: float = 45.0
    """TRANSFERRING: how long to wait for the transfer's outcome before taking the caller back."""
    default_language: str = "en-US"
    """The language an `auto` call is greeted in, before its caller is heard."""
    prompts: PromptBook = field(default_factory=lambda: EMPTY_BOOK, hash=False)
    """The default tenant's configured prompt texts by (primary language, kind); the fields above are
    the English defaults."""
    tenant_prompts: Mapping[str, PromptBook] = field(default_factory=dict, hash=False)
    """Every other tenant's configured prompts, by tenant id: a call hears its own tenant's only."""

    def prompt(self, kind: str, language: str, tenant: str = DEFAULT_TENANT) -> str:
        """The `kind` prompt (`streams.dialog.prompts.KINDS`) for a call of `tenant` speaking `language`:
        the tenant's configured text, else the built-in one in the language, else English."""
        english = {
            "greeting": self.greeting, "reprompt": self.reprompt, "goodbye_no_input": self.goodbye_no_input,
            "goodbye_dtmf": self.goodbye_dtmf, "sorry": self.sorry, "handoff_hold": self.handoff_hold,
            "handoff_unavailable": self.handoff_unavailable, "handoff_failed": self.handoff_failed,
        }  # fmt: skip
        book = self.prompts if tenant == DEFAULT_TENANT else self.tenant_prompts.get(tenant, EMPTY_BOOK)
        return prompt_text(book, kind, spoken_language(language, self.default_language), english)


DEFAULT_POLICY: Final = Policy()


def derived_event_id(call_id: str, source: str, seq: int) -> uuid.UUID:
    """The event id of the record numbered `seq` by `source` for `call_id`: the same on every re-run."""
    return uuid.uuid5(ID_NAMESPACE, f"{call_id}/{source}/{seq}")


def dtmf_utterance_id(call_id: str, seq: int) -> str:
    return f"{call_id}:dtmf:{seq}"


def reply_id_for(call_id: str, seq: int) -> str:
    return f"{call_id}:say:{seq}"


def turn_utterance_id(call_id: str, seq: int) -> str:
    return f"{call_id}:turn:{seq}"


def holds(policy: Policy, fact: m.UtteranceTranscribed) -> bool:
    """Whether the machine holds this final transcript for more of the caller's words instead of having
    it answered. A function of the fact alone, so the dialog engine skips exactly these
    (`streams.agents.speech.wants_reply`): the machine records the caller's whole turn later."""
    return (
        policy.turn_hold_s > 0
        and fact.source != policy.source
        and fact.is_final
        and looks_unfinished(fact.text, fact.language)
    )


_FIELDS: Final = tuple(f.name for f in fields(DialogState))


class _Draft:
    """A mutable working copy of a DialogState (one `DialogState(...)` per fact instead of one per change)."""

    __slots__ = _FIELDS

    def __init__(self, state: DialogState) -> None:
        for name in _FIELDS:
            setattr(self, name, getattr(state, name))

    def freeze(self) -> DialogState:
        return DialogState(**{name: getattr(self, name) for name in _FIELDS})


class _Step:
    """Accumulates one fact's state changes and decisions; internal to `decide`."""

    __slots__ = ("drop", "fact", "out", "policy", "s", "start")

    def __init__(self, state: DialogState, fact: Any, policy: Policy) -> None:
        self.start = state
        self.s: Any = _Draft(state)  # read like a DialogState
        self.fact = fact
        self.policy = policy
        self.out: list[Decision] = []
        self.drop = False

    def set(self, **changes: Any) -> None:
        for name, value in changes.items():
            setattr(self.s, name, value)

    def _envelope(self) -> dict[str, Any]:
        seq = self.s.out_seq + 1
        self.set(out_seq=seq)
        return {
            "event_id": derived_event_id(self.s.call_id, self.policy.source, seq),
            "call_id": self.s.call_id,
            "seq": seq,
            "occurred_at": self.fact.occurred_at,
            "source": self.policy.source,
            "trace_id": self.s.trace_id or self.fact.trace_id,
            "tenant": self.s.tenant,
        }

    def record(self, cls: type[Any], **fields: Any) -> Any:
        fact = cls(**self._envelope(), **fields)
        self.out.append(Record(fact))
        return fact

    def send(self, cls: type[Any], **fields: Any) -> None:
        assert self.s.edge is not None, "commands are only sent after CallEstablished named the edge"
        self.out.append(Send(self.s.edge, cls(**self._envelope(), **fields)))

    def say(self, text: str, intent: str, *, end: bool = False, barge_in: bool = True) -> None:
        reply_id = reply_id_for(self.s.call_id, self.s.out_seq + 1)
        self.record(
            m.AgentReplied, reply_id=reply_id, utterance_id=None, text=text, intent=intent,
            end_conversation=end, engine=MACHINE_ENGINE, latency_ms=0.0, language=self.language(),
        )  # fmt: skip
        self.set(pending_reply=reply_id, barge_in=barge_in)

    def language(self) -> str:
        """The language the agent speaks on this call now."""
        return spoken_language(self.s.language, self.policy.default_language)

    def prompt(self, kind: str) -> str:
        return with_caller(self.policy.prompt(kind, self.s.language, self.s.tenant), self.s.caller_name)

    def arm(self, name: TimerName, delay_s: float) -> None:
        seq = self.s.out_seq + 1
        self.set(out_seq=seq, timer=Timer(name, seq, delay_s))
        self.out.append(ArmTimer(name, seq, delay_s))

    def stop_playback(self) -> None:
        if self.s.playing is not None:  # a streamed reply's family: every piece, queued or playing
            self.send(m.StopPlayback, playback_id=family_of(self.s.playing))
        self.set(playing=None, pending_reply=None, streaming=False)

    def go(self, phase: Phase) -> None:
        self.set(phase=phase)

    def finish(self, trigger: str) -> tuple[DialogState, list[Decision]]:
        if self.start.timer is not None and self.s.timer is None:
            self.out.append(CancelTimer())
        if self.s.phase != self.start.phase:
            self.record(
                m.DialogStateChanged, from_state=str(self.start.phase), to_state=str(self.s.phase),
                trigger=trigger, turn=self.s.turn,
            )  # fmt: skip
        if self.drop:
            self.out.append(DropState())
        return self.s.freeze(), self.out


# Handlers: (step) -> None. Each may find its fact stale and change nothing but the seen-ids.


def _note_edge(st: _Step) -> None:
    f = st.fact
    st.set(edge=st.s.edge or f.source, trace_id=st.s.trace_id or f.trace_id)
    if f.tenant != DEFAULT_TENANT:  # the edge stamps the call's tenant on its every fact
        st.set(tenant=f.tenant)


def _configure(st: _Step) -> None:
    f: m.DialplanResolved = st.fact
    _note_edge(st)
    agent = f.action == "agent"
    st.set(language=f.language, agent_enabled=agent, handoff_target=(f.target or None) if agent else None)
    # The caller as configuration knows them (edge.uas.callerid): greeted by name, and in their
    # preferred language when the dialplan leaves it open (`auto`).
    st.set(caller_name=f.caller_name or None)
    if f.caller_language and is_auto(f.language):
        st.set(language=f.caller_language)


def _context_updated(st: _Step) -> None:
    """An action wrote values back to the call's context: a `name` is how prompts call them now."""
    f: m.CallContextUpdated = st.fact
    name = context_values(f.values).get("name")
    if name:
        st.set(caller_name=name)


def _greet(st: _Step) -> None:
    f: m.CallEstablished = st.fact
    st.set(edge=f.source, trace_id=st.s.trace_id or f.trace_id)
    if not st.s.agent_enabled:
        st.drop = True  # the dialplan sent this call elsewhere; the dialog stays out of it
        return
    st.say(st.prompt("greeting"), "greeting", barge_in=st.policy.greeting_barge_in)
    st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)
    st.go(Phase.GREETING)


def _synthesized(st: _Step) -> None:
    """Audio for the awaited reply: play it. A streamed reply's pieces come one by one (`part`), each
    queued at the edge behind the one before; the reply stays awaited until its `last` piece."""
    f: m.SpeechSynthesized = st.fact
    if f.reply_id != st.s.pending_reply:
        return  # audio for a reply that was superseded or interrupted
    if not f.last and st.s.phase != Phase.CLOSING:
        st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)  # for the next piece
    elif st.s.phase != Phase.CLOSING:
        st.set(timer=None)
    st.set(pending_reply=None if f.last else f.reply_id, streaming=not f.last)
    if not f.pcm and f.last and f.part:
        # The pieces said everything: the reply ends with the piece playing now, or has ended already.
        if st.s.playing is None:
            _reply_played(st)
        return
    playback_id = piece_playback_id(f.reply_id, f.part, f.last)
    st.send(
        m.PlayAudio, playback_id=playback_id, pcm=f.pcm, sample_rate=f.sample_rate,
        barge_in=st.s.barge_in, text=f.text,
        after_utterance=st.s.early_of,  # an early answer: heard only if the caller's utterance ends
    )  # fmt: skip
    st.set(playing=playback_id)


def _playback_finished(st: _Step) -> None:
    f: m.PlaybackFinished = st.fact
    if f.playback_id != st.s.playing:
        return  # an interrupted or foreign playback, or a piece with another queued behind it
    st.set(playing=None)
    if f.reason == CALLER_RESUMED and st.s.early_of is not None:
        # The caller spoke on after the pause the early answer was prepared at: it was never heard,
        # and the utterance's final transcript is the turn (answered even if its words are the same).
        # What the unheard answer would have led to (a transfer, the end of the call) is off too.
        st.set(
            pending_utterance=None, pending_reply=None, streaming=False, early_of=None, early_text=None,
            handoff=False, handoff_reason=None, barge_in=True,
        )  # fmt: skip
        st.go(Phase.LISTENING)
        st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)
        return
    if st.s.streaming:
        return  # a streamed reply played faster than it is written: its next piece is on its way
    _reply_played(st)


def _reply_played(st: _Step) -> None:
    """The agent finished saying its reply (every piece of it)."""
    if st.s.phase == Phase.CLOSING:
        st.send(m.Hangup, reason="dialog_complete")
        st.set(hangup_sent=True, timer=None)
        return
    if st.s.handoff:
        _transfer(st)
        return
    st.go(Phase.LISTENING)
    st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)


def _interruptible(st: _Step) -> bool:
    busy = st.s.playing is not None or st.s.pending_reply is not None
    return not busy or st.s.barge_in


def _speech_started(st: _Step) -> None:
    f: m.SpeechStarted = st.fact
    st.set(speech_open=f.utterance_id)
    phase = st.s.phase
    if phase in (Phase.GREETING, Phase.SPEAKING):
        if not _interruptible(st):
            return
        st.stop_playback()  # barge-in: the caller's voice overtakes queued audio
        st.set(pending_utterance=None)  # a streamed reply's end is not wanted either
        st.go(Phase.LISTENING)
        st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)
    elif phase == Phase.LISTENING:
        # Re-arm: if the speech turns out to be noise and no transcript follows, reprompt later.
        st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)


def _take_turn(st: _Step, utterance_id: str) -> None:
    st.stop_playback()
    st.set(turn=st.s.turn + 1, pending_utterance=utterance_id, reprompts=0, held_text=None)
    st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)
    st.go(Phase.THINKING)


def _hold(st: _Step, text: str, *, finished: bool = False) -> None:
    """The caller seems to be mid-sentence: keep their words and listen on (barge-in included: the
    agent's audio stops, as for any caller turn; a reply being thought about is superseded).

    If they are already speaking again (a slow transcript arrives after the next `SpeechStarted`),
    the short hold would run out mid-word: wait for that speech's transcript instead, up to the
    no-input timeout, as when they start speaking during the hold; words that read `finished`, held
    only because the caller spoke again, wait at most `resume_wait_s` (that speech may have been a
    breath the edge dropped: no transcript would come)."""
    st.stop_playback()
    st.set(held_text=text, pending_utterance=None)
    if finished:
        st.arm(TimerName.TURN_HOLD, st.policy.resume_wait_s)
    elif st.s.speech_open is not None:
        st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)
    else:
        st.arm(TimerName.TURN_HOLD, st.policy.turn_hold_s)
    st.go(Phase.LISTENING)


def _speaking_again(st: _Step) -> bool:
    """The caller started a new utterance before this one's final transcript came: a short end
    silence (``vad_end_silence_ms``) cut a pause mid-sentence ("I need help" … "with my bill"), which
    no text rule can tell from a finished sentence. The words are held for the rest, as an unfinished
    transcript is, instead of answering the first half while the caller is talking."""
    return st.policy.turn_hold_s > 0 and st.s.speech_open is not None


def _answer_held(st: _Step, text: str) -> None:
    """Record the caller's whole turn (the held words, joined with what completed them) as one
    transcript, for the dialog engine to answer, and think about it."""
    utterance_id = turn_utterance_id(st.s.call_id, st.s.out_seq + 1)
    st.record(
        m.UtteranceTranscribed, utterance_id=utterance_id, text=text, language=st.language(),
        confidence=None, is_final=True, engine=TURN_ENGINE, latency_ms=0.0,
    )  # fmt: skip
    _take_turn(st, utterance_id)


def _partial(st: _Step) -> None:
    """A partial transcript (the words so far of an utterance still being spoken). With
    `early_answer`, the same finished-looking words twice in a row, and with `pause_answer` such words
    up to a pause of the caller (`pause`), the caller listening to nothing, start the answer now: the
    machine records them as a caller turn (engine `partial`) and thinks about it, as for a final
    transcript. Later words of that utterance discard the early answer."""
    f: m.UtteranceTranscribed = st.fact
    at_pause = f.pause and st.policy.pause_answer
    if st.s.early_of == f.utterance_id:
        if normalized(f.text) != st.s.early_text:
            _discard_early(st)  # the caller is saying more than what is being answered
            st.go(Phase.LISTENING)
            st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)
        return
    if not st.policy.early_answer and not at_pause:
        return
    words = normalized(f.text)
    stable = at_pause or (st.s.partial_of == f.utterance_id and st.s.partial == words)
    st.set(partial_of=f.utterance_id, partial=words)
    if (
        not stable
        or not words
        or st.s.phase != Phase.LISTENING
        or st.s.held_text is not None
        or st.s.speech_open != f.utterance_id
        or looks_unfinished(f.text, f.language)
    ):
        return
    utterance_id = early_utterance_id(f.utterance_id, st.s.out_seq + 1)
    st.record(
        m.UtteranceTranscribed, utterance_id=utterance_id, text=f.text, language=st.language(),
        confidence=f.confidence, is_final=True, engine=EARLY_ENGINE, latency_ms=0.0,
    )  # fmt: skip
    _take_turn(st, utterance_id)
    st.set(early_of=f.utterance_id, early_text=words)


def _discard_early(st: _Step) -> None:
    """The early answer is not the caller's turn: stop its audio (queued or playing) and forget it."""
    st.stop_playback()
    st.set(pending_utterance=None, early_of=None, early_text=None)


def _transcribed(st: _Step) -> None:
    f: m.UtteranceTranscribed = st.fact
    if not f.is_final:
        _partial(st)
        return
    if f.utterance_id == st.s.speech_open:
        st.set(speech_open=None)
    if f.utterance_id == st.s.partial_of:
        st.set(partial_of=None, partial=None)
    if f.utterance_id == st.s.early_of:
        if normalized(f.text) == st.s.early_text:
            st.set(early_of=None, early_text=None)
            return  # the early answer was this turn's: it goes on
        _discard_early(st)  # other words: answer them instead (below), never the early answer
    held = st.s.held_text
    if not f.text.strip():
        if held is not None:
            st.arm(TimerName.TURN_HOLD, st.policy.turn_hold_s)  # noise, not the rest: wait as before
        elif st.s.phase == Phase.LISTENING:
            st.arm(TimerName.NO_INPUT, st.policy.no_input_timeout_s)  # noise: keep waiting
        return
    # An `auto` call takes the language of its first words (and speaks it from then on).
    st.set(language=settled_language(st.s.language, f.language, f.text))
    text = f.text if held is None else join(held, f.text, f.language)
    if not _interruptible(st):
        if held is not None or holds(st.policy, f):
            # The agent's prompt plays on, but the words are kept: the dialog engine skipped them
            # (it skips every caller transcript from an unfinished one until the machine records one).
            st.set(held_text=text)
        return
    if holds(st.policy, f):
        _hold(st, text)
    elif _speaking_again(st):
        _hold(st, text, finished=held is None)
    elif held is not None:
        _answer_held(st, text)
    else:
        _take_turn(st, f.utterance_id)


def _close(st: _Step, text: str) -> None:
    st.set(pending_utterance=None, held_text=None)
    st.say(text, "goodbye", end=True, barge_in=False)
    st.arm(TimerName.HANGUP, st.policy.closing_timeout_s)
    st.go(Phase.CLOSING)


def _dtmf(st: _Step) -> None:
    f: m.DtmfReceived = st.fact
    if f.digit == st.policy.handoff_digit and st.s.handoff_target:
        _hand_off(st, st.prompt("handoff_hold"), f"the caller pressed {f.digit} for a person")
        return
    if f.digit == st.policy.exit_digit:
        st.stop_playback()
        _close(st, st.prompt("goodbye_dtmf"))
        return
    if not _interruptible(st):
        return
    # Keys end a held sentence: the digit is its own turn (a menu choice), the held words are dropped.
    utterance_id = dtmf_utterance_id(st.s.call_id, f.seq)
    st.record(
        m.UtteranceTranscribed, utterance_id=utterance_id, text=f.digit, language=st.language(),
        confidence=1.0, is_final=True, engine=DTMF_ENGINE, latency_ms=0.0,
    )  # fmt: skip
    _take_turn(st, utterance_id)


def _reply_piece(st: _Step) -> None:
    """The first sentence of a reply still being written (a streamed reply): speak it now. The
    utterance stays pending: the final `AgentReplied` (the whole turn) decides what follows it."""
    f: m.AgentReplied = st.fact
    if st.s.pending_reply == f.reply_id:
        return  # a later piece: TTS voices it, `_synthesized` queues it
    st.set(pending_reply=f.reply_id, streaming=True, barge_in=True)
    st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)
    st.go(Phase.SPEAKING)


def _answers_pending(st: _Step, utterance_id: str | None) -> bool:
    """Whether a reply to ``utterance_id`` is the one the machine waits for: the pending turn's, or,
    for an early turn its utterance's final confirmed (the same words), that utterance's own — what a
    dialog-engine worker restarted between the two answers (it lost the early words it kept in memory,
    so it answers the final instead of leaving the turn to the early reply)."""
    pending = st.s.pending_utterance
    if utterance_id is None or pending is None:
        return False
    if utterance_id == pending:
        return True
    return st.s.early_of is None and is_early(pending) and answered_utterance(pending) == utterance_id


def _replied(st: _Step) -> None:
    f: m.AgentReplied = st.fact
    if not _answers_pending(st, f.utterance_id):
        return  # a reply to an utterance the caller has since talked over
    if not f.final:
        _reply_piece(st)
        return
    if f.part and st.s.pending_reply != f.reply_id:
        return  # a streamed reply whose spoken pieces were stopped
    st.set(pending_utterance=None, pending_reply=f.reply_id)
    p = st.policy
    misunderstood = st.s.misunderstood + 1 if f.intent == FALLBACK_INTENT else 0
    st.set(misunderstood=misunderstood)
    if f.intent == HANDOFF_INTENT:
        if st.s.handoff_target:
            # the engine's own words ("let me connect you")
            st.set(handoff=True, barge_in=False, handoff_reason="the caller asked to speak to a person")
            st.arm(TimerName.NO_REPLY, p.no_reply_timeout_s)
            st.go(Phase.SPEAKING)
        else:
            st.stop_playback()  # a streamed reply's first words, if any
            st.say(st.prompt("handoff_unavailable"), "handoff_unavailable")  # instead of promising a person
            st.arm(TimerName.NO_REPLY, p.no_reply_timeout_s)
            st.go(Phase.SPEAKING)
        return
    if st.s.handoff_target and p.max_misunderstood and misunderstood >= p.max_misunderstood:
        _hand_off(
            st, st.prompt("handoff_hold"), f"the agent did not understand the caller {misunderstood} times"
        )
        return
    if f.end_conversation:
        st.set(barge_in=False)
        st.arm(TimerName.HANGUP, st.policy.closing_timeout_s)
        st.go(Phase.CLOSING)
    else:
        st.set(barge_in=True)
        st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)
        st.go(Phase.SPEAKING)


def _hand_off(st: _Step, text: str, reason: str) -> None:
    """Say `text` ("please hold"), then transfer the caller to the dialplan's target."""
    st.stop_playback()
    st.set(pending_utterance=None, held_text=None, misunderstood=0, handoff_reason=reason)
    st.say(text, HANDOFF_INTENT, barge_in=False)
    st.set(handoff=True)
    st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)
    st.go(Phase.SPEAKING)


def _transfer(st: _Step) -> None:
    st.set(handoff=False)
    st.send(m.TransferCall, target_uri=st.s.handoff_target, brief=st.s.handoff_reason)
    st.arm(TimerName.TRANSFER, st.policy.transfer_timeout_s)
    st.go(Phase.TRANSFERRING)


def _take_back(st: _Step) -> None:
    """The transfer failed: the agent keeps the caller."""
    st.say(st.prompt("handoff_failed"), "handoff_failed")
    st.arm(TimerName.NO_REPLY, st.policy.no_reply_timeout_s)
    st.go(Phase.SPEAKING)


def _transferred(st: _Step) -> None:
    f: m.CallTransferred = st.fact
    if f.target_uri != st.s.handoff_target:
        return  # an operator's transfer, not the one this dialog asked for
    if f.status == "failed":
        _take_back(st)
    elif f.status == "bridged":
        st.set(timer=None)  # the edge joined the caller to the person: no taking back, the agent is silent
    elif f.status in ("bridging", "briefing"):
        # the edge calls the person (its ring time at most MAX_TRANSFER_RING_S), then briefs them: each
        # step restarts the wait, so a slow answer and then a brief are not both within one window
        st.arm(TimerName.TRANSFER, st.policy.transfer_timeout_s)
    # requested/accepted: the caller's phone is calling; completed: the edge hangs up (CallEnded)


def _timer_fired(st: _Step) -> None:
    f: m.DialogTimerFired = st.fact
    t = st.s.timer
    if t is None or f.timer != t.name or f.armed_seq != t.armed_seq:
        return  # re-armed or cancelled since
    st.set(timer=None)
    phase, p = st.s.phase, st.policy
    if t.name in (TimerName.TURN_HOLD, TimerName.NO_INPUT) and st.s.held_text is not None:
        # No more words came (or speech that began never became a transcript): answer what was said.
        _answer_held(st, st.s.held_text)
    elif t.name == TimerName.NO_INPUT and phase == Phase.LISTENING:
        if st.s.reprompts < p.max_reprompts:
            st.set(reprompts=st.s.reprompts + 1)
            st.say(st.prompt("reprompt"), "reprompt")
            st.arm(TimerName.NO_REPLY, p.no_reply_timeout_s)
            st.go(Phase.SPEAKING)
        else:
            _close(st, st.prompt("goodbye_no_input"))
    elif t.name == TimerName.NO_REPLY and phase == Phase.THINKING:
        st.set(pending_utterance=None)
        st.say(st.prompt("sorry"), "error")
        st.arm(TimerName.NO_REPLY, p.no_reply_timeout_s)
        st.go(Phase.SPEAKING)
    elif t.name == TimerName.NO_REPLY and phase == Phase.SPEAKING and st.s.streaming:
        # The rest of a streamed reply never came: it ends with what was said.
        st.set(streaming=False, pending_reply=None, pending_utterance=None)
        if st.s.playing is None:
            _reply_played(st)
    elif t.name == TimerName.NO_REPLY and phase == Phase.SPEAKING and st.s.handoff:
        st.set(pending_reply=None)  # "please hold" never came: transfer all the same
        _transfer(st)
    elif t.name == TimerName.TRANSFER and phase == Phase.TRANSFERRING:
        _take_back(st)
    elif t.name == TimerName.NO_REPLY and phase in (Phase.GREETING, Phase.SPEAKING):
        st.set(pending_reply=None)  # the audio never came; listen instead
        st.go(Phase.LISTENING)
        st.arm(TimerName.NO_INPUT, p.no_input_timeout_s)
    elif t.name == TimerName.HANGUP and phase == Phase.CLOSING:
        st.send(m.Hangup, reason="dialog_timeout")
        st.set(hangup_sent=True)


def _end(st: _Step) -> None:
    st.drop = True
    if st.s.phase != Phase.SETUP:
        st.set(timer=None)
        st.go(Phase.ENDED)


HANDLERS: Final[dict[str, Callable[[_Step], None]]] = {
    "note_edge": _note_edge,
    "configure": _configure,
    "greet": _greet,
    "context_updated": _context_updated,
    "synthesized": _synthesized,
    "playback_finished": _playback_finished,
    "speech_started": _speech_started,
    "transcribed": _transcribed,
    "dtmf": _dtmf,
    "replied": _replied,
    "transferred": _transferred,
    "timer": _timer_fired,
    "end": _end,
}

_LIVE: dict[type[Any], str] = {
    m.CallInviteReceived: ILLEGAL,
    m.DialplanResolved: ILLEGAL,
    m.MediaPortAllocated: ILLEGAL,
    m.CallAnswered: ILLEGAL,
    m.CallEstablished: ILLEGAL,
    m.CallRejected: ILLEGAL,
    m.CallCancelled: ILLEGAL,
    m.MediaPortReleased: ILLEGAL,
    m.CallEnded: "end",
    m.CallContextUpdated: "context_updated",
    m.CallMediaUpdated: IGNORE,
    m.CallTransferred: IGNORE,
    m.CallDegraded: IGNORE,  # the edge speaks for itself and hangs up: CallEnded follows
    m.MediaQualityReported: IGNORE,
    m.SipMessageObserved: IGNORE,  # the SIP ladder: for people reading the call, not for the dialog
    m.RecordingFinished: IGNORE,
    m.PlaybackStarted: IGNORE,
    m.UtteranceCaptured: IGNORE,
    m.UtteranceChunkCaptured: IGNORE,  # a preview for partial transcripts, which the dialog ignores too
    m.DialogStateChanged: IGNORE,
    # the dialog engine's agent actions: its AgentReplied (confirmation, result, apology) drives the dialog
    **dict.fromkeys((m.ActionRequested, m.ActionCompleted, m.ActionFailed), IGNORE),
    m.DialogTimerFired: "timer",
    m.SpeechSynthesized: "synthesized",
    m.PlaybackFinished: "playback_finished",
    m.AgentReplied: "replied",
    m.SpeechStarted: "speech_started",
    m.UtteranceTranscribed: "transcribed",
    m.DtmfReceived: "dtmf",
}
_ALL_FACTS: tuple[type[Any], ...] = tuple(_LIVE)

TABLE: Final[dict[Phase, dict[type[Any], str]]] = {
    Phase.SETUP: {
        **dict.fromkeys(_ALL_FACTS, IGNORE),  # stragglers of a call whose state was dropped
        **dict.fromkeys((m.CallInviteReceived, m.MediaPortAllocated, m.CallAnswered), "note_edge"),
        m.DialplanResolved: "configure",
        m.CallEstablished: "greet",
        m.CallRejected: "end",
        m.CallCancelled: "end",
        m.CallEnded: "end",
        m.SpeechStarted: ILLEGAL,
        m.DtmfReceived: ILLEGAL,
    },
    Phase.GREETING: dict(_LIVE),
    Phase.LISTENING: dict(_LIVE),
    Phase.THINKING: dict(_LIVE),
    Phase.SPEAKING: dict(_LIVE),
    Phase.TRANSFERRING: {
        **_LIVE,
        m.CallTransferred: "transferred",
        # The caller waits for the person (ringback from the target's side): nothing to answer.
        **dict.fromkeys((m.SpeechStarted, m.UtteranceTranscribed, m.DtmfReceived, m.AgentReplied), IGNORE),
    },
    Phase.CLOSING: {
        **_LIVE,
        **dict.fromkeys((m.SpeechStarted, m.UtteranceTranscribed, m.DtmfReceived, m.AgentReplied), IGNORE),
    },
    Phase.ENDED: dict.fromkeys(_ALL_FACTS, IGNORE),
}


def _is_redelivery(state: DialogState, fact: Any) -> bool:
    if str(fact.event_id) in state.recent_ids:
        return True
    return state.edge is not None and fact.source == state.edge and fact.seq <= state.edge_seq


def _seen(st: _Step) -> None:
    s, fact = st.s, st.fact
    s.recent_ids = (*s.recent_ids, str(fact.event_id))[-RECENT_IDS:]
    if s.edge is None or fact.source == s.edge:
        s.edge_seq = max(s.edge_seq, fact.seq)


def decide(
    state: DialogState, fact: Any, policy: Policy = DEFAULT_POLICY
) -> tuple[DialogState, list[Decision]]:
    """Apply one fact of the call to its dialog state; return the next state and the decisions.

    The state is returned unchanged (the same object) when the fact is ignored, a redelivery, or the
    machine's own echo, so the caller need not write it back.
    """
    if fact.call_id != state.call_id:
        raise IllegalTransition(f"fact for call {fact.call_id} applied to the state of call {state.call_id}")
    try:
        entry = TABLE[state.phase][type(fact)]
    except KeyError:
        raise IllegalTransition(f"{type(fact).__name__} is not a call fact") from None
    if entry == IGNORE or fact.source == policy.source or _is_redelivery(state, fact):
        return state, []
    if entry == ILLEGAL:
        raise IllegalTransition(
            f"{type(fact).__name__} cannot happen in {state.phase} (call {state.call_id}, seq {fact.seq})"
        )
    step = _Step(state, fact, policy)
    _seen(step)
    HANDLERS[entry](step)
    trigger = type(fact).__name__
    if isinstance(fact, m.DialogTimerFired):
        trigger = f"DialogTimerFired:{fact.timer}"
    return step.finish(trigger)


def new_state(call_id: str) -> DialogState:
    return DialogState(call_id=call_id)


def fact_types() -> tuple[type[Any], ...]:
    """Every call fact type the table covers (all of `schemas.models.Fact`)."""
    return _ALL_FACTS
