"""Typed records of the Sentiric contract.

GENERATED from the .avsc files by `python -m schemas.codegen`; do not edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionCompleted:
    """An agent action's endpoint answered with success."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.ActionCompleted"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    request_id: str
    action: str
    status_code: int
    result: str
    attempts: int
    latency_ms: float
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "request_id": self.request_id,
            "action": self.action,
            "status_code": self.status_code,
            "result": self.result,
            "attempts": self.attempts,
            "latency_ms": self.latency_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ActionCompleted:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionFailed:
    """An agent action could not be done: refused, unreachable, timed out, or an error status."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.ActionFailed"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    request_id: str
    action: str
    status_code: int | None = None
    error: str
    attempts: int
    latency_ms: float
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "request_id": self.request_id,
            "action": self.action,
            "status_code": self.status_code,
            "error": self.error,
            "attempts": self.attempts,
            "latency_ms": self.latency_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ActionFailed:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionRequested:
    """The dialog engine starts an agent action with the caller's arguments."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.ActionRequested"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    request_id: str
    action: str
    utterance_id: str | None = None
    name: str
    arguments: str
    url: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "request_id": self.request_id,
            "action": self.action,
            "utterance_id": self.utterance_id,
            "name": self.name,
            "arguments": self.arguments,
            "url": self.url,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ActionRequested:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentReplied:
    """The dialog engine's answer to a transcript."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.AgentReplied"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    reply_id: str
    utterance_id: str | None = None
    text: str
    intent: str | None = None
    end_conversation: bool = False
    engine: str
    latency_ms: float
    language: str | None = None
    final: bool = True
    part: int = 0
    rest: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "reply_id": self.reply_id,
            "utterance_id": self.utterance_id,
            "text": self.text,
            "intent": self.intent,
            "end_conversation": self.end_conversation,
            "engine": self.engine,
            "latency_ms": self.latency_ms,
            "language": self.language,
            "final": self.final,
            "part": self.part,
            "rest": self.rest,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> AgentReplied:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered:
    """200 OK with the SDP answer (or late offer) was sent."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallAnswered"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    codec: str
    payload_type: int
    clock_rate: int = 8000
    ptime_ms: int = 20
    srtp: bool = False
    remote_rtp_addr: str | None = None
    sdp_answer: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "codec": self.codec,
            "payload_type": self.payload_type,
            "clock_rate": self.clock_rate,
            "ptime_ms": self.ptime_ms,
            "srtp": self.srtp,
            "remote_rtp_addr": self.remote_rtp_addr,
            "sdp_answer": self.sdp_answer,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallAnswered:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallCancelled:
    """The caller cancelled before the call was answered."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallCancelled"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    reason: str = "caller_cancel"
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "reason": self.reason,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallCancelled:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallContextUpdated:
    """An action's result wrote named values into the call's context, for later prompts and actions."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallContextUpdated"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    request_id: str
    action: str
    values: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "request_id": self.request_id,
            "action": self.action,
            "values": self.values,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallContextUpdated:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDegraded:
    """The edge served an answered call itself: the AI side could not."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallDegraded"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    reason: str
    action: str
    waited_ms: float = 0.0
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "reason": self.reason,
            "action": self.action,
            "waited_ms": self.waited_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallDegraded:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded:
    """The call is over; the last call fact but MediaPortReleased."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallEnded"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    reason: str
    hangup_by: str
    sip_status: int
    setup_ms: float | None = None
    talk_ms: int = 0
    total_ms: int
    disposition: str | None = None
    early_media: bool = False
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "reason": self.reason,
            "hangup_by": self.hangup_by,
            "sip_status": self.sip_status,
            "setup_ms": self.setup_ms,
            "talk_ms": self.talk_ms,
            "total_ms": self.total_ms,
            "disposition": self.disposition,
            "early_media": self.early_media,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallEnded:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEstablished:
    """The ACK for the 200 OK arrived; media flows."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallEstablished"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    ack_delay_ms: float = 0.0
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "ack_delay_ms": self.ack_delay_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallEstablished:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallInviteReceived:
    """An INVITE for a new call reached the edge."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallInviteReceived"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    sip_call_id: str
    from_uri: str
    to_uri: str
    caller: str
    callee: str
    remote_addr: str
    transport: str
    channel: str = "sip"
    sdp_offer: str | None = None
    user_agent: str | None = None
    raw_invite: bytes | None = None
    direction: str = "inbound"
    tenant: str = "default"
    parent_call_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "sip_call_id": self.sip_call_id,
            "from_uri": self.from_uri,
            "to_uri": self.to_uri,
            "caller": self.caller,
            "callee": self.callee,
            "remote_addr": self.remote_addr,
            "transport": self.transport,
            "channel": self.channel,
            "sdp_offer": self.sdp_offer,
            "user_agent": self.user_agent,
            "raw_invite": self.raw_invite,
            "direction": self.direction,
            "tenant": self.tenant,
            "parent_call_id": self.parent_call_id,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallInviteReceived:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallMediaUpdated:
    """A re-INVITE changed the media (hold, unhold, new address or codec)."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallMediaUpdated"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    direction: str
    remote_rtp_addr: str | None = None
    codec: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "direction": self.direction,
            "remote_rtp_addr": self.remote_rtp_addr,
            "codec": self.codec,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallMediaUpdated:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRejected:
    """Call setup failed or was refused; the SIP final response sent."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallRejected"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    sip_status: int
    reason: str
    stage: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "sip_status": self.sip_status,
            "reason": self.reason,
            "stage": self.stage,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallRejected:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallTransferred:
    """A transfer progressed: a blind one (REFER), or the edge's own bridge to the target (B2BUA)."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.CallTransferred"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    target_uri: str
    status: str
    sip_status: int | None = None
    leg_call_id: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "target_uri": self.target_uri,
            "status": self.status,
            "sip_status": self.sip_status,
            "leg_call_id": self.leg_call_id,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallTransferred:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogStateChanged:
    """The dialog state machine moved; its decisions recorded as facts."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.DialogStateChanged"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    from_state: str
    to_state: str
    trigger: str
    turn: int = 0
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "trigger": self.trigger,
            "turn": self.turn,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DialogStateChanged:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialogTimerFired:
    """A dialog timer (no-input, reprompt) expired."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.DialogTimerFired"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    timer: str
    armed_seq: int
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "timer": self.timer,
            "armed_seq": self.armed_seq,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DialogTimerFired:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class DialplanResolved:
    """The local dialplan decided what to do with the call; the caller was looked up before the greeting."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.DialplanResolved"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    dialplan_id: str
    action: str
    target: str | None = None
    prompt_uri: str | None = None
    language: str = "en-US"
    caller: str | None = None
    caller_matched_by: str = "none"
    caller_contact_id: str | None = None
    caller_name: str | None = None
    caller_language: str | None = None
    caller_profile: str = "{}"
    caller_claimed_name: str | None = None
    tenant: str = "default"
    knowledge: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "dialplan_id": self.dialplan_id,
            "action": self.action,
            "target": self.target,
            "prompt_uri": self.prompt_uri,
            "language": self.language,
            "caller": self.caller,
            "caller_matched_by": self.caller_matched_by,
            "caller_contact_id": self.caller_contact_id,
            "caller_name": self.caller_name,
            "caller_language": self.caller_language,
            "caller_profile": self.caller_profile,
            "caller_claimed_name": self.caller_claimed_name,
            "tenant": self.tenant,
            "knowledge": self.knowledge,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DialplanResolved:
        record["knowledge"] = tuple(record["knowledge"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfReceived:
    """A DTMF digit from the caller."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.DtmfReceived"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    digit: str
    duration_ms: int
    method: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "digit": self.digit,
            "duration_ms": self.duration_ms,
            "method": self.method,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> DtmfReceived:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaPortAllocated:
    """An RTP/RTCP port pair was reserved for the call."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.MediaPortAllocated"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    rtp_port: int
    local_address: str
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "rtp_port": self.rtp_port,
            "local_address": self.local_address,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MediaPortAllocated:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaPortReleased:
    """The call's RTP port went back to the pool (into quarantine)."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.MediaPortReleased"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    rtp_port: int
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "rtp_port": self.rtp_port,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MediaPortReleased:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaQualityReported:
    """RTCP-derived quality, periodic and at call end."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.MediaQualityReported"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    final: bool
    packets_received: int
    packets_lost: int
    loss_fraction: float
    jitter_ms: float
    rtt_ms: float | None = None
    r_factor: float
    mos: float
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "final": self.final,
            "packets_received": self.packets_received,
            "packets_lost": self.packets_lost,
            "loss_fraction": self.loss_fraction,
            "jitter_ms": self.jitter_ms,
            "rtt_ms": self.rtt_ms,
            "r_factor": self.r_factor,
            "mos": self.mos,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MediaQualityReported:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished:
    """Playback stopped: completed, interrupted by barge-in, or stopped by command."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.PlaybackFinished"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    playback_id: str
    interrupted: bool
    played_ms: int
    duration_ms: int
    reason: str = "completed"
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "playback_id": self.playback_id,
            "interrupted": self.interrupted,
            "played_ms": self.played_ms,
            "duration_ms": self.duration_ms,
            "reason": self.reason,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PlaybackFinished:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted:
    """The edge started sending a prompt or synthesized reply."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.PlaybackStarted"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    playback_id: str
    source_uri: str | None = None
    duration_ms: int
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "playback_id": self.playback_id,
            "source_uri": self.source_uri,
            "duration_ms": self.duration_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PlaybackStarted:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished:
    """A recording was written and uploaded."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.RecordingFinished"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    recording_id: str
    uri: str
    format: str
    size_bytes: int
    duration_ms: int
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "recording_id": self.recording_id,
            "uri": self.uri,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "duration_ms": self.duration_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RecordingFinished:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class SipMessageObserved:
    """One SIP message of a call's dialog, either way (the SIP ladder); dialog and CDR ignore it."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.SipMessageObserved"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    direction: str
    transport: str
    local_addr: str
    remote_addr: str
    first_line: str
    raw: bytes
    size: int
    truncated: bool = False
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "direction": self.direction,
            "transport": self.transport,
            "local_addr": self.local_addr,
            "remote_addr": self.remote_addr,
            "first_line": self.first_line,
            "raw": self.raw,
            "size": self.size,
            "truncated": self.truncated,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SipMessageObserved:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechStarted:
    """The VAD heard the caller start speaking (barge-in signal)."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.SpeechStarted"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    utterance_id: str
    stream_ms: int
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "utterance_id": self.utterance_id,
            "stream_ms": self.stream_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SpeechStarted:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpeechSynthesized:
    """Text-to-speech audio for a reply, PCM in the event."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.SpeechSynthesized"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    reply_id: str
    text: str
    sample_rate: int
    pcm: bytes
    engine: str
    latency_ms: float
    part: int = 0
    last: bool = True
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "reply_id": self.reply_id,
            "text": self.text,
            "sample_rate": self.sample_rate,
            "pcm": self.pcm,
            "engine": self.engine,
            "latency_ms": self.latency_ms,
            "part": self.part,
            "last": self.last,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SpeechSynthesized:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class UtteranceCaptured:
    """A VAD-endpointed caller utterance, PCM in the event."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.UtteranceCaptured"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    utterance_id: str
    sample_rate: int
    pcm: bytes
    start_ms: int
    end_ms: int
    end_reason: str = "silence"
    text: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "utterance_id": self.utterance_id,
            "sample_rate": self.sample_rate,
            "pcm": self.pcm,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "end_reason": self.end_reason,
            "text": self.text,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> UtteranceCaptured:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class UtteranceChunkCaptured:
    """Audio of an utterance in progress since its previous chunk, for partial transcripts."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.UtteranceChunkCaptured"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    utterance_id: str
    index: int
    sample_rate: int
    pcm: bytes
    start_ms: int
    end_ms: int
    tenant: str = "default"
    pause: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "utterance_id": self.utterance_id,
            "index": self.index,
            "sample_rate": self.sample_rate,
            "pcm": self.pcm,
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "tenant": self.tenant,
            "pause": self.pause,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> UtteranceChunkCaptured:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class UtteranceTranscribed:
    """Speech-to-text result for an utterance."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.events.UtteranceTranscribed"
    FAMILY: ClassVar[str] = "events"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    utterance_id: str
    text: str
    language: str
    confidence: float | None = None
    is_final: bool = True
    engine: str
    latency_ms: float
    tenant: str = "default"
    pause: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "utterance_id": self.utterance_id,
            "text": self.text,
            "language": self.language,
            "confidence": self.confidence,
            "is_final": self.is_final,
            "engine": self.engine,
            "latency_ms": self.latency_ms,
            "tenant": self.tenant,
            "pause": self.pause,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> UtteranceTranscribed:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup:
    """End the call (the edge sends BYE)."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.Hangup"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    reason: str = "agent_hangup"
    requested_by: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "reason": self.reason,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Hangup:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListenCall:
    """An operator listens to a live call (audit); the audio goes over gRPC, never the log."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.ListenCall"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    listening: bool = True
    direction: str = "mixed"
    requested_by: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "listening": self.listening,
            "direction": self.direction,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ListenCall:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class MuteAgent:
    """Mute or unmute the AI agent on a call (an operator's action): muted, its prompts play as silence."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.MuteAgent"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    muted: bool = True
    requested_by: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "muted": self.muted,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MuteAgent:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginateCall:
    """Place an outgoing call from this edge and, once answered, run the agent on it like an inbound call."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.OriginateCall"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    to_uri: str
    to: str
    trunk_id: str | None = None
    from_user: str = "sentiric"
    dialplan_id: str | None = None
    language: str | None = None
    knowledge: tuple[str, ...] = ()
    ring_timeout_s: int = 30
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "to_uri": self.to_uri,
            "to": self.to,
            "trunk_id": self.trunk_id,
            "from_user": self.from_user,
            "dialplan_id": self.dialplan_id,
            "language": self.language,
            "knowledge": self.knowledge,
            "ring_timeout_s": self.ring_timeout_s,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> OriginateCall:
        record["knowledge"] = tuple(record["knowledge"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlayAudio:
    """Play a prompt URI or PCM to the caller."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.PlayAudio"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    playback_id: str
    audio_uri: str | None = None
    pcm: bytes | None = None
    sample_rate: int = 8000
    barge_in: bool = True
    text: str | None = None
    requested_by: str | None = None
    tenant: str = "default"
    after_utterance: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "playback_id": self.playback_id,
            "audio_uri": self.audio_uri,
            "pcm": self.pcm,
            "sample_rate": self.sample_rate,
            "barge_in": self.barge_in,
            "text": self.text,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
            "after_utterance": self.after_utterance,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> PlayAudio:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class SendDtmf:
    """Send RFC 4733 digits to the caller."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.SendDtmf"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    digits: str
    duration_ms: int = 100
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "digits": self.digits,
            "duration_ms": self.duration_ms,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SendDtmf:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class StartRecording:
    """Record both directions, caller left, agent right."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.StartRecording"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    recording_id: str
    output_uri: str
    format: str = "wav"
    requested_by: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "recording_id": self.recording_id,
            "output_uri": self.output_uri,
            "format": self.format,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StartRecording:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopPlayback:
    """Stop the current (or the named) playback at once."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.StopPlayback"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    playback_id: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "playback_id": self.playback_id,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StopPlayback:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class StopRecording:
    """Finish a recording and upload it."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.StopRecording"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    recording_id: str
    requested_by: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "recording_id": self.recording_id,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StopRecording:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferCall:
    """Blind-transfer the caller with REFER."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.commands.TransferCall"
    FAMILY: ClassVar[str] = "commands"
    event_id: UUID
    call_id: str
    seq: int
    occurred_at: datetime
    source: str
    trace_id: str
    target_uri: str
    requested_by: str | None = None
    tenant: str = "default"
    mode: str | None = None
    brief: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "call_id": self.call_id,
            "seq": self.seq,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "target_uri": self.target_uri,
            "requested_by": self.requested_by,
            "tenant": self.tenant,
            "mode": self.mode,
            "brief": self.brief,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> TransferCall:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """An agent action: a signed HTTPS call the dialog engine makes with the slots a caller gave."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.Action"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    name: str
    description: str
    parameters: str
    url: str
    secret: str
    timeout_s: float = 5.0
    retries: int = 1
    triggers: tuple[str, ...]
    confirm_text: str = ""
    done_text: str = ""
    fallback_text: str = ""
    language: str = "en-US"
    enabled: bool = True
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "url": self.url,
            "secret": self.secret,
            "timeout_s": self.timeout_s,
            "retries": self.retries,
            "triggers": self.triggers,
            "confirm_text": self.confirm_text,
            "done_text": self.done_text,
            "fallback_text": self.fallback_text,
            "language": self.language,
            "enabled": self.enabled,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Action:
        record["triggers"] = tuple(record["triggers"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiToken:
    """A bearer token (st_<entity_id>_<secret>); only the SHA-256 of its secret is kept."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.ApiToken"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    name: str
    secret_sha256: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None = None
    revoked: bool = False
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "name": self.name,
            "secret_sha256": self.secret_sha256,
            "scopes": self.scopes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked": self.revoked,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ApiToken:
        record["scopes"] = tuple(record["scopes"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Contact:
    """A known caller: the numbers or SIP users they call from, and what the agent knows of them."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.Contact"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    numbers: tuple[str, ...]
    name: str
    language: str | None = None
    profile: str = "{}"
    enabled: bool = True
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "numbers": self.numbers,
            "name": self.name,
            "language": self.language,
            "profile": self.profile,
            "enabled": self.enabled,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Contact:
        record["numbers"] = tuple(record["numbers"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Dialplan:
    """A dialplan entry: which called numbers go where."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.Dialplan"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    pattern: str
    priority: int = 100
    action: str
    target: str | None = None
    prompt_uri: str | None = None
    reject_status: int = 403
    require_auth: bool = False
    language: str = "en-US"
    access: str | None = None
    busy_action: str | None = None
    record: bool = False
    record_format: str = "wav"
    record_retention_days: int = 0
    ring_ms: int | None = None
    hours: str | None = None
    timezone: str = "UTC"
    out_of_hours: str | None = None
    transfer_mode: str = "refer"
    tenant: str = "default"
    transfer_ring_s: float | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "pattern": self.pattern,
            "priority": self.priority,
            "action": self.action,
            "target": self.target,
            "prompt_uri": self.prompt_uri,
            "reject_status": self.reject_status,
            "require_auth": self.require_auth,
            "language": self.language,
            "access": self.access,
            "busy_action": self.busy_action,
            "record": self.record,
            "record_format": self.record_format,
            "record_retention_days": self.record_retention_days,
            "ring_ms": self.ring_ms,
            "hours": self.hours,
            "timezone": self.timezone,
            "out_of_hours": self.out_of_hours,
            "transfer_mode": self.transfer_mode,
            "tenant": self.tenant,
            "transfer_ring_s": self.transfer_ring_s,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Dialplan:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowledgeEntry:
    """A knowledge-base entry the dialog engine answers from."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.KnowledgeEntry"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    title: str
    phrasings: tuple[str, ...]
    answer: str
    language: str = "en-US"
    end_conversation: bool = False
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "title": self.title,
            "phrasings": self.phrasings,
            "answer": self.answer,
            "language": self.language,
            "end_conversation": self.end_conversation,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> KnowledgeEntry:
        record["phrasings"] = tuple(record["phrasings"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Prompt:
    """A named prompt."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.Prompt"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    uri: str | None = None
    text: str | None = None
    kind: str | None = None
    language: str = "en-US"
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "uri": self.uri,
            "text": self.text,
            "kind": self.kind,
            "language": self.language,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Prompt:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class SipUser:
    """A SIP user for digest authentication and registration."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.SipUser"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    username: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    enabled: bool = True
    display_name: str | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "username": self.username,
            "realm": self.realm,
            "ha1_md5": self.ha1_md5,
            "ha1_sha256": self.ha1_sha256,
            "enabled": self.enabled,
            "display_name": self.display_name,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SipUser:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tenant:
    """A business the platform serves; 'default' needs no record (what predates tenants)."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.Tenant"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    name: str
    domains: tuple[str, ...] = ()
    language: str = "en"
    enabled: bool = True

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "name": self.name,
            "domains": self.domains,
            "language": self.language,
            "enabled": self.enabled,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Tenant:
        record["domains"] = tuple(record["domains"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class Trunk:
    """A trusted SIP peer (carrier, SBC, PBX) known by its source address ranges."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.Trunk"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    name: str
    sources: tuple[str, ...]
    media_anywhere: bool = False
    enabled: bool = True
    outbound_address: str | None = None
    outbound_username: str | None = None
    outbound_password: str | None = None
    outbound_from_user: str | None = None
    outbound_max_calls: int = 0
    outbound_calls_per_second: float = 0.0
    outbound_register: bool = False
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "name": self.name,
            "sources": self.sources,
            "media_anywhere": self.media_anywhere,
            "enabled": self.enabled,
            "outbound_address": self.outbound_address,
            "outbound_username": self.outbound_username,
            "outbound_password": self.outbound_password,
            "outbound_from_user": self.outbound_from_user,
            "outbound_max_calls": self.outbound_max_calls,
            "outbound_calls_per_second": self.outbound_calls_per_second,
            "outbound_register": self.outbound_register,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Trunk:
        record["sources"] = tuple(record["sources"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookSubscription:
    """An outbound webhook connector."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.config.WebhookSubscription"
    FAMILY: ClassVar[str] = "config"
    event_id: UUID
    entity_id: str
    occurred_at: datetime
    source: str
    trace_id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    enabled: bool = True
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "url": self.url,
            "event_types": self.event_types,
            "secret": self.secret,
            "enabled": self.enabled,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> WebhookSubscription:
        record["event_types"] = tuple(record["event_types"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class KpiWindowReported:
    """Tumbling-window telecom KPIs from the analytics agents."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.metrics.KpiWindowReported"
    FAMILY: ClassVar[str] = "metrics"
    event_id: UUID
    window_start: datetime
    window_end: datetime
    occurred_at: datetime
    source: str
    trace_id: str
    calls_offered: int
    calls_answered: int
    calls_ended: int
    calls_rejected: int = 0
    asr: float | None = None
    acd_ms: float | None = None
    pdd_ms_p50: float | None = None
    pdd_ms_p95: float | None = None
    stt_ms_p50: float | None = None
    stt_ms_p95: float | None = None
    dialog_ms_p50: float | None = None
    dialog_ms_p95: float | None = None
    tts_ms_p50: float | None = None
    tts_ms_p95: float | None = None
    v2v_ms_p50: float | None = None
    v2v_ms_p95: float | None = None
    tenant: str = "default"

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "occurred_at": self.occurred_at,
            "source": self.source,
            "trace_id": self.trace_id,
            "calls_offered": self.calls_offered,
            "calls_answered": self.calls_answered,
            "calls_ended": self.calls_ended,
            "calls_rejected": self.calls_rejected,
            "asr": self.asr,
            "acd_ms": self.acd_ms,
            "pdd_ms_p50": self.pdd_ms_p50,
            "pdd_ms_p95": self.pdd_ms_p95,
            "stt_ms_p50": self.stt_ms_p50,
            "stt_ms_p95": self.stt_ms_p95,
            "dialog_ms_p50": self.dialog_ms_p50,
            "dialog_ms_p95": self.dialog_ms_p95,
            "tts_ms_p50": self.tts_ms_p50,
            "tts_ms_p95": self.tts_ms_p95,
            "v2v_ms_p50": self.v2v_ms_p50,
            "v2v_ms_p95": self.v2v_ms_p95,
            "tenant": self.tenant,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> KpiWindowReported:
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerHeartbeat:
    """A dialog worker's liveness and lag, on the compacted sentiric.workers topic, key = worker id."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.metrics.WorkerHeartbeat"
    FAMILY: ClassVar[str] = "metrics"
    event_id: UUID
    worker_id: str
    at: datetime
    topic: str
    partitions: tuple[int, ...]
    lag: int
    behind_s: float
    skipped: int = 0
    stopping: bool = False

    def to_record(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "worker_id": self.worker_id,
            "at": self.at,
            "topic": self.topic,
            "partitions": self.partitions,
            "lag": self.lag,
            "behind_s": self.behind_s,
            "skipped": self.skipped,
            "stopping": self.stopping,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> WorkerHeartbeat:
        record["partitions"] = tuple(record["partitions"])
        return cls(**record)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDetailRecord:
    """The call detail record of one call (the pure CDR fold, projections/cdr.py), latest per call id."""

    SCHEMA_NAME: ClassVar[str] = "sentiric.cdr.CallDetailRecord"
    FAMILY: ClassVar[str] = "cdr"
    call_id: str
    sip_call_id: str | None = None
    caller: str | None = None
    callee: str | None = None
    from_uri: str | None = None
    to_uri: str | None = None
    channel: str | None = None
    direction: str = "inbound"
    early_media: bool | None = None
    transport: str | None = None
    remote_addr: str | None = None
    user_agent: str | None = None
    edge_node: str | None = None
    invite_at: datetime | None = None
    answered_at: datetime | None = None
    established_at: datetime | None = None
    ended_at: datetime | None = None
    rejected_at: datetime | None = None
    cancelled_at: datetime | None = None
    dialplan_id: str | None = None
    dialplan_action: str | None = None
    language: str | None = None
    codec: str | None = None
    srtp: bool | None = None
    rtp_port: int | None = None
    reject_status: int | None = None
    reject_reason: str | None = None
    reject_stage: str | None = None
    cancel_reason: str | None = None
    end_reason: str | None = None
    hangup_by: str | None = None
    end_sip_status: int | None = None
    setup_ms: float | None = None
    talk_ms: int | None = None
    total_ms: int | None = None
    mos: float | None = None
    r_factor: float | None = None
    loss_fraction: float | None = None
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    packets_received: int | None = None
    packets_lost: int | None = None
    quality_final: bool | None = None
    quality_seq: int | None = None
    recording_uri: str | None = None
    recording_format: str | None = None
    recording_bytes: int | None = None
    recording_ms: int | None = None
    recording_seq: int | None = None
    transfer_target: str | None = None
    transfer_status: str | None = None
    transfer_seq: int | None = None
    degraded_reason: str | None = None
    log_topic: str | None = None
    log_partition: int | None = None
    first_offset: int | None = None
    last_offset: int | None = None
    event_count: int = 0
    disposition: str = "in-progress"
    pdd_ms: float | None = None
    duration_ms: int | None = None
    finished_at: datetime | None = None
    transfer_leg_call_id: str | None = None
    tenant: str = "default"
    parent_call_id: str | None = None

    def to_record(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "sip_call_id": self.sip_call_id,
            "caller": self.caller,
            "callee": self.callee,
            "from_uri": self.from_uri,
            "to_uri": self.to_uri,
            "channel": self.channel,
            "direction": self.direction,
            "early_media": self.early_media,
            "transport": self.transport,
            "remote_addr": self.remote_addr,
            "user_agent": self.user_agent,
            "edge_node": self.edge_node,
            "invite_at": self.invite_at,
            "answered_at": self.answered_at,
            "established_at": self.established_at,
            "ended_at": self.ended_at,
            "rejected_at": self.rejected_at,
            "cancelled_at": self.cancelled_at,
            "dialplan_id": self.dialplan_id,
            "dialplan_action": self.dialplan_action,
            "language": self.language,
            "codec": self.codec,
            "srtp": self.srtp,
            "rtp_port": self.rtp_port,
            "reject_status": self.reject_status,
            "reject_reason": self.reject_reason,
            "reject_stage": self.reject_stage,
            "cancel_reason": self.cancel_reason,
            "end_reason": self.end_reason,
            "hangup_by": self.hangup_by,
            "end_sip_status": self.end_sip_status,
            "setup_ms": self.setup_ms,
            "talk_ms": self.talk_ms,
            "total_ms": self.total_ms,
            "mos": self.mos,
            "r_factor": self.r_factor,
            "loss_fraction": self.loss_fraction,
            "jitter_ms": self.jitter_ms,
            "rtt_ms": self.rtt_ms,
            "packets_received": self.packets_received,
            "packets_lost": self.packets_lost,
            "quality_final": self.quality_final,
            "quality_seq": self.quality_seq,
            "recording_uri": self.recording_uri,
            "recording_format": self.recording_format,
            "recording_bytes": self.recording_bytes,
            "recording_ms": self.recording_ms,
            "recording_seq": self.recording_seq,
            "transfer_target": self.transfer_target,
            "transfer_status": self.transfer_status,
            "transfer_seq": self.transfer_seq,
            "degraded_reason": self.degraded_reason,
            "log_topic": self.log_topic,
            "log_partition": self.log_partition,
            "first_offset": self.first_offset,
            "last_offset": self.last_offset,
            "event_count": self.event_count,
            "disposition": self.disposition,
            "pdd_ms": self.pdd_ms,
            "duration_ms": self.duration_ms,
            "finished_at": self.finished_at,
            "transfer_leg_call_id": self.transfer_leg_call_id,
            "tenant": self.tenant,
            "parent_call_id": self.parent_call_id,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CallDetailRecord:
        return cls(**record)


Fact = (
    ActionCompleted
    | ActionFailed
    | ActionRequested
    | AgentReplied
    | CallAnswered
    | CallCancelled
    | CallContextUpdated
    | CallDegraded
    | CallEnded
    | CallEstablished
    | CallInviteReceived
    | CallMediaUpdated
    | CallRejected
    | CallTransferred
    | DialogStateChanged
    | DialogTimerFired
    | DialplanResolved
    | DtmfReceived
    | MediaPortAllocated
    | MediaPortReleased
    | MediaQualityReported
    | PlaybackFinished
    | PlaybackStarted
    | RecordingFinished
    | SipMessageObserved
    | SpeechStarted
    | SpeechSynthesized
    | UtteranceCaptured
    | UtteranceChunkCaptured
    | UtteranceTranscribed
)

Command = (
    Hangup
    | ListenCall
    | MuteAgent
    | OriginateCall
    | PlayAudio
    | SendDtmf
    | StartRecording
    | StopPlayback
    | StopRecording
    | TransferCall
)

ConfigRecord = (
    Action
    | ApiToken
    | Contact
    | Dialplan
    | KnowledgeEntry
    | Prompt
    | SipUser
    | Tenant
    | Trunk
    | WebhookSubscription
)

MetricRecord = KpiWindowReported | WorkerHeartbeat

CdrRecord = CallDetailRecord

ALL_MODELS: tuple[type[Any], ...] = (
    ActionCompleted,
    ActionFailed,
    ActionRequested,
    AgentReplied,
    CallAnswered,
    CallCancelled,
    CallContextUpdated,
    CallDegraded,
    CallEnded,
    CallEstablished,
    CallInviteReceived,
    CallMediaUpdated,
    CallRejected,
    CallTransferred,
    DialogStateChanged,
    DialogTimerFired,
    DialplanResolved,
    DtmfReceived,
    MediaPortAllocated,
    MediaPortReleased,
    MediaQualityReported,
    PlaybackFinished,
    PlaybackStarted,
    RecordingFinished,
    SipMessageObserved,
    SpeechStarted,
    SpeechSynthesized,
    UtteranceCaptured,
    UtteranceChunkCaptured,
    UtteranceTranscribed,
    Hangup,
    ListenCall,
    MuteAgent,
    OriginateCall,
    PlayAudio,
    SendDtmf,
    StartRecording,
    StopPlayback,
    StopRecording,
    TransferCall,
    Action,
    ApiToken,
    Contact,
    Dialplan,
    KnowledgeEntry,
    Prompt,
    SipUser,
    Tenant,
    Trunk,
    WebhookSubscription,
    KpiWindowReported,
    WorkerHeartbeat,
    CallDetailRecord,
)
