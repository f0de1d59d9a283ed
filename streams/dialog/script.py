"""A scripted call: builds the facts an edge and the speech workers would record for one call.

Used by the reducer's tests, the replay tests and the benchmark. Edge facts are numbered by one
per-call sequence (as `schemas.envelope.CallSequencer` does); worker facts by one sequence per worker.
Event ids and times derive from the call id and the numbers, so a script is reproducible.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import models as m
from schemas.envelope import DEFAULT_TENANT
from streams.dialog.decisions import Record, Send
from streams.dialog.machine import DEFAULT_POLICY, decide, new_state

EDGE = "edge-1"
STT = "stt"
ENGINE = "dialog-engine"
TTS = "tts"
TIMER = "dialog-timer"
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
_NS = uuid.UUID("0c9d8a36-4a5e-4f0b-9a3e-1d2c3b4a5f60")

# Required fields of every fact type, beyond the envelope, with plausible values.
DEFAULTS: dict[type[Any], dict[str, Any]] = {
    m.AgentReplied: {"reply_id": "r-x", "text": "ok", "engine": "kb", "latency_ms": 1.0},
    m.ActionRequested: {"request_id": "a-x", "action": "book", "name": "book", "arguments": "{}",
                        "url": "https://example.com/book"},
    m.ActionCompleted: {"request_id": "a-x", "action": "book", "status_code": 200, "result": "{}",
                        "attempts": 1, "latency_ms": 1.0},
    m.ActionFailed: {"request_id": "a-x", "action": "book", "error": "timeout", "attempts": 2,
                     "latency_ms": 1.0},
    m.CallContextUpdated: {"request_id": "a-x", "action": "book", "values": '{"name": "Bob"}'},
    m.CallAnswered: {"codec": "PCMU", "payload_type": 0, "sdp_answer": "v=0\r\n"},
    m.CallCancelled: {},
    m.CallEnded: {"reason": "bye", "hangup_by": "caller", "sip_status": 200, "total_ms": 1000},
    m.CallEstablished: {},
    m.CallInviteReceived: {
        "sip_call_id": "abc@host", "from_uri": "sip:alice@example.com", "to_uri": "sip:100@example.com",
        "caller": "alice", "callee": "100", "remote_addr": "127.0.0.1:5062", "transport": "udp",
    },
    m.CallMediaUpdated: {"direction": "sendrecv", "codec": "PCMU"},
    m.CallRejected: {"sip_status": 404, "reason": "no route", "stage": "dialplan"},
    m.CallTransferred: {"target_uri": "sip:200@example.com", "status": "accepted"},
    m.CallDegraded: {"reason": "no_greeting", "action": "fallback_prompt", "waited_ms": 4000.0},
    m.DialogStateChanged: {"from_state": "LISTENING", "to_state": "THINKING", "trigger": "x"},
    m.DialogTimerFired: {"timer": "no_input", "armed_seq": 999},
    m.DialplanResolved: {"dialplan_id": "default", "action": "agent"},
    m.DtmfReceived: {"digit": "5", "duration_ms": 100, "method": "rfc4733"},
    m.MediaPortAllocated: {"rtp_port": 20000, "local_address": "127.0.0.1"},
    m.MediaPortReleased: {"rtp_port": 20000},
    m.MediaQualityReported: {
        "final": False, "packets_received": 100, "packets_lost": 0, "loss_fraction": 0.0,
        "jitter_ms": 1.0, "r_factor": 93.0, "mos": 4.4,
    },
    m.SipMessageObserved: {
        "direction": "in", "transport": "udp", "local_addr": "127.0.0.1:5060",
        "remote_addr": "127.0.0.1:5062", "first_line": "OPTIONS sip:100@example.com SIP/2.0",
        "raw": b"OPTIONS sip:100@example.com SIP/2.0\r\n", "size": 36,
    },
    m.PlaybackFinished: {"playback_id": "p-x", "interrupted": False, "played_ms": 1000, "duration_ms": 1000},
    m.PlaybackStarted: {"playback_id": "p-x", "duration_ms": 1000},
    m.RecordingFinished: {
        "recording_id": "rec", "uri": "file:///tmp/r.wav", "format": "wav", "size_bytes": 44,
        "duration_ms": 0,
    },
    m.SpeechStarted: {"utterance_id": "u-x", "stream_ms": 0},
    m.SpeechSynthesized: {
        "reply_id": "r-x", "text": "ok", "sample_rate": 16000, "pcm": b"\x01\x00" * 8, "engine": "espeak",
        "latency_ms": 1.0,
    },
    m.UtteranceCaptured: {"utterance_id": "u-x", "sample_rate": 16000, "pcm": b"\x00\x00" * 8,
                          "start_ms": 0, "end_ms": 1},
    m.UtteranceChunkCaptured: {"utterance_id": "u-x", "index": 0, "sample_rate": 16000,
                               "pcm": b"\x00\x00" * 8, "start_ms": 0, "end_ms": 1},
    m.UtteranceTranscribed: {"utterance_id": "u-x", "text": "hello", "language": "en-US", "engine": "whisper",
                             "latency_ms": 1.0},
}  # fmt: skip

# Which producer records each fact type.
PRODUCER: dict[type[Any], str] = {
    **dict.fromkeys(DEFAULTS, EDGE),
    m.UtteranceTranscribed: STT,
    m.AgentReplied: ENGINE,
    **dict.fromkeys((m.ActionRequested, m.ActionCompleted, m.ActionFailed, m.CallContextUpdated), ENGINE),
    m.SpeechSynthesized: TTS,
    m.DialogTimerFired: TIMER,
    m.DialogStateChanged: "dialog-other",
}


class CallScript:
    def __init__(self, call_id: str = "call-1", edge: str = EDGE, tenant: str = DEFAULT_TENANT) -> None:
        self.call_id = call_id
        self.edge = edge
        self.tenant = tenant  # every fact's (a field given to `fact` wins)
        self._seq: dict[str, int] = {}
        self._clock = 0

    def fact(self, cls: type[Any], *, source: str | None = None, **fields: Any) -> Any:
        source = source or (self.edge if PRODUCER[cls] == EDGE else PRODUCER[cls])
        seq = self._seq.get(source, 0) + 1
        self._seq[source] = seq
        self._clock += 1
        envelope = {
            "event_id": uuid.uuid5(_NS, f"{self.call_id}/{source}/{seq}"),
            "call_id": self.call_id,
            "seq": seq,
            "occurred_at": START + timedelta(milliseconds=100 * self._clock),
            "source": source,
            "trace_id": f"trace-{self.call_id}",
        }
        return cls(**envelope, **{**DEFAULTS[cls], "tenant": self.tenant, **fields})

    # The usual facts of a call, in the order an edge records them.

    def setup(self, action: str = "agent", target: str | None = None) -> list[Any]:
        return [
            self.fact(m.CallInviteReceived),
            self.fact(m.DialplanResolved, action=action, target=target),
            self.fact(m.MediaPortAllocated),
            self.fact(m.CallAnswered),
        ]

    def established(self) -> Any:
        return self.fact(m.CallEstablished)

    def synthesized(self, reply_id: str, text: str = "ok") -> Any:
        return self.fact(m.SpeechSynthesized, reply_id=reply_id, text=text)

    def played(self, playback_id: str, *, interrupted: bool = False) -> list[Any]:
        return [
            self.fact(m.PlaybackStarted, playback_id=playback_id),
            self.fact(m.PlaybackFinished, playback_id=playback_id, interrupted=interrupted,
                      reason="barge_in" if interrupted else "completed"),
        ]  # fmt: skip

    def speech(self, utterance_id: str) -> Any:
        return self.fact(m.SpeechStarted, utterance_id=utterance_id)

    def captured(self, utterance_id: str) -> Any:
        return self.fact(m.UtteranceCaptured, utterance_id=utterance_id)

    def transcribed(self, utterance_id: str, text: str) -> Any:
        return self.fact(m.UtteranceTranscribed, utterance_id=utterance_id, text=text)

    def replied(self, utterance_id: str, text: str, *, end: bool = False, intent: str = "kb") -> Any:
        return self.fact(m.AgentReplied, reply_id=f"{utterance_id}:reply", utterance_id=utterance_id,
                         text=text, intent=intent, end_conversation=end)  # fmt: skip

    def dtmf(self, digit: str) -> Any:
        return self.fact(m.DtmfReceived, digit=digit)

    def timer(self, name: str, armed_seq: int) -> Any:
        return self.fact(m.DialogTimerFired, timer=name, armed_seq=armed_seq)

    def transferred(self, target_uri: str, status: str, sip_status: int | None = None) -> Any:
        return self.fact(m.CallTransferred, target_uri=target_uri, status=status, sip_status=sip_status)

    def ended(self, hangup_by: str = "caller") -> Any:
        return self.fact(m.CallEnded, hangup_by=hangup_by)


class RecordedCall:
    """A scripted call run through the reducer, kept as the log would hold it: each input fact followed
    by the records and commands the machine made for it (what `replay dialog` reads back)."""

    def __init__(self, call_id: str = "call-1", policy: Any = None, edge: str = EDGE) -> None:
        self.script = CallScript(call_id, edge)
        self.policy = policy or DEFAULT_POLICY
        self.state = new_state(call_id)
        self.log: list[Any] = []

    def feed(self, *facts: Any) -> None:
        for fact in facts:
            self.log.append(fact)
            self.state, decisions = decide(self.state, fact, self.policy)
            self.log.extend(
                d.fact if isinstance(d, Record) else d.command
                for d in decisions
                if isinstance(d, Record | Send)
            )

    def play(self) -> None:
        """The edge voices the reply the machine is waiting for, to the end."""
        rid = self.state.pending_reply
        assert rid is not None, "no reply is pending"
        self.feed(self.script.synthesized(rid), *self.script.played(rid))
