"""The per-call dialog state, as stored in the dialog agent's Faust table.

The state is plain data: a frozen dataclass that serializes to compact JSON (`bytes(state)`) and
back (`DialogState.parse(data)`), so a restarted worker rebuilds it from the table's changelog and
takes exactly the same future decisions. It holds no clock values: timers are named and numbered
(`armed_seq`), and the agent keeps their wall-clock deadlines beside the state.

Phases (DESIGN.md, "The dialog state machine"); `streams.dialog.machine.TABLE` has every edge::

    SETUP ─CallEstablished─▶ GREETING ─PlaybackFinished─▶ LISTENING ─UtteranceTranscribed/DTMF─▶ THINKING
                                │                          ▲   │ no-input: reprompt           │ AgentReplied
                                │ caller speaks (barge-in) │   ▼                              ▼
                                └─────────────────────────▶├── SPEAKING ◀─────────────────────┘
                                                           └── (PlaybackFinished / barge-in)
    no-input twice, DTMF 0, end_conversation ─▶ CLOSING ─PlaybackFinished: Hangup─▶ … CallEnded ─▶ ENDED
    CallEnded in any phase ─▶ ENDED (the state is dropped)
    handoff (the caller asks for a person, DTMF 0, not understood twice) with a dialplan target:
        SPEAKING "please hold" ─PlaybackFinished: TransferCall─▶ TRANSFERRING
        ─CallTransferred completed─▶ (the edge hangs up its leg) … CallEnded
        ─CallTransferred failed / transfer timer─▶ SPEAKING "couldn't connect you" ─▶ LISTENING

A transcript that looks unfinished does not leave LISTENING: its text is held (`held_text`) until the
caller's next transcript completes it, or the `turn_hold` timer gives up waiting; either way the
machine then records the caller's whole turn as one `UtteranceTranscribed` and goes THINKING.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

RECENT_IDS = 16
"""How many event ids a state remembers to drop redelivered facts (Faust redelivers after rebalances)."""


class StateError(ValueError):
    """Bytes that are not a serialized DialogState."""


class Phase(StrEnum):
    SETUP = "SETUP"
    GREETING = "GREETING"
    LISTENING = "LISTENING"
    THINKING = "THINKING"
    SPEAKING = "SPEAKING"
    TRANSFERRING = "TRANSFERRING"
    CLOSING = "CLOSING"
    ENDED = "ENDED"


class TimerName(StrEnum):
    NO_INPUT = "no_input"
    """LISTENING: the caller said nothing; reprompt once, then say goodbye."""
    NO_REPLY = "no_reply"
    """THINKING, or waiting for synthesized audio: a speech worker did not answer."""
    HANGUP = "hangup"
    """CLOSING: the goodbye did not finish playing; hang up anyway."""
    TRANSFER = "transfer"
    """TRANSFERRING: the edge reported neither a completed nor a failed transfer; take the caller back."""
    TURN_HOLD = "turn_hold"
    """LISTENING with `held_text`: the caller's sentence looked unfinished and no more came; answer
    what was said."""


@dataclass(frozen=True, slots=True)
class Timer:
    name: TimerName
    armed_seq: int
    delay_s: float


@dataclass(frozen=True, slots=True)
class DialogState:
    call_id: str
    phase: Phase = Phase.SETUP
    edge: str | None = None
    """Node id of the edge that owns the call (the `source` of its edge facts); commands go to it."""
    language: str = "en-US"
    agent_enabled: bool = True
    """False when the dialplan routed the call elsewhere (transfer, prompt_hangup, reject)."""
    trace_id: str | None = None
    out_seq: int = 0
    """Last `seq` this machine stamped on a record (or used to number a timer)."""
    edge_seq: int = 0
    """Highest `seq` seen from the owning edge; an edge fact at or below it is a redelivery."""
    recent_ids: tuple[str, ...] = ()
    turn: int = 0
    pending_utterance: str | None = None
    """THINKING: the utterance the dialog engine is answering; other replies are stale."""
    pending_reply: str | None = None
    """The reply whose synthesized audio is awaited; other audio is stale."""
    playing: str | None = None
    """Playback id sent to the edge in PlayAudio and not finished yet (for a streamed reply, its
    latest piece: `schemas.playback_ids`)."""
    streaming: bool = False
    """Pieces of `pending_reply` (a streamed reply) are still to come: its last piece is not played yet."""
    barge_in: bool = True
    """Whether the current (or awaited) playback may be interrupted by the caller."""
    reprompts: int = 0
    speech_open: str | None = None
    """Utterance id of the caller's latest `SpeechStarted` whose transcript has not come yet: the
    caller may be talking right now."""
    held_text: str | None = None
    """LISTENING: what the caller said so far of a sentence that looks unfinished ("My order number
    is"), not answered yet; their next utterance is joined to it (`streams.dialog.completeness`)."""
    partial_of: str | None = None
    """With `Policy.early_answer`: the utterance whose latest partial transcript is `partial`."""
    partial: str | None = None
    """Its text, normalized (`streams.dialog.completeness.normalized`): the next partial equal to it
    is stable."""
    early_of: str | None = None
    """The utterance an early answer was started from (a stable partial), until its final transcript
    confirms (the same words) or discards it."""
    early_text: str | None = None
    """The normalized words the early answer answers."""
    timer: Timer | None = None
    hangup_sent: bool = False
    handoff_target: str | None = None
    """Where the caller goes when they ask for a person (the agent dialplan's `target`); None: nobody."""
    handoff: bool = False
    """The reply being said is the handoff's "please hold": the transfer follows when it has played."""
    misunderstood: int = 0
    """Consecutive replies that did not understand the caller (intent `fallback`)."""
    tenant: str = "default"
    """The call's tenant, as the edge's facts name it (`schemas.envelope.DEFAULT_TENANT` until one
    does): every record the machine makes carries it."""
    caller_name: str | None = None
    """The caller's configured name (`DialplanResolved.caller_name`) or the one an action wrote back
    (`CallContextUpdated`); prompts say it for `{caller_name}`. None: unknown."""
    handoff_reason: str | None = None
    """Why the caller is being handed to a person; the `TransferCall`'s brief (an attended transfer
    says it to the person before joining them)."""
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)
    """Fields written by newer versions, kept so a round trip through an older worker loses nothing."""

    def evolve(self, **changes: Any) -> DialogState:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        extra = out.pop("extra")
        out["phase"] = str(self.phase)
        out["recent_ids"] = list(self.recent_ids)
        if self.timer is not None:
            out["timer"] = {
                "name": str(self.timer.name),
                "armed_seq": self.timer.armed_seq,
                "delay_s": self.timer.delay_s,
            }
        return {**extra, **out}

    def __bytes__(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DialogState:
        known = set(cls.__dataclass_fields__) - {"extra"}
        try:
            kwargs = {k: v for k, v in data.items() if k in known}
            kwargs["phase"] = Phase(kwargs.get("phase", Phase.SETUP))
            kwargs["recent_ids"] = tuple(kwargs.get("recent_ids", ()))
            t = kwargs.get("timer")
            if t is not None:
                kwargs["timer"] = Timer(TimerName(t["name"]), int(t["armed_seq"]), float(t["delay_s"]))
            state = cls(**kwargs, extra={k: v for k, v in data.items() if k not in known})
        except (KeyError, TypeError, ValueError) as exc:
            raise StateError(f"invalid dialog state: {type(exc).__name__}: {exc}") from None
        if not isinstance(state.call_id, str) or not state.call_id:
            raise StateError("invalid dialog state: call_id missing")
        return state

    @classmethod
    def parse(cls, data: bytes) -> DialogState:
        try:
            obj = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StateError(f"invalid dialog state: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise StateError("invalid dialog state: not a JSON object")
        return cls.from_json(obj)
