"""The CDR fold: call facts → rows of the read model. Pure: no I/O, no clock.

Rows (one dataclass per table, fields = columns, in column order):

    calls              one per call_id: parties, SIP Call-ID, times, disposition, quality, recording,
                       where the call sits on the log (topic, partition, first/last offset)
    transcript_turns   one per utterance (speaker caller, key utterance_id) or reply (speaker agent,
                       key reply_id), with its STT / dialog / TTS engines and latencies
    playbacks          one per playback_id (prompt or reply), started/finished, barge-in
    dtmf               one per DtmfReceived fact
    kpi_windows        one per analytics window (KpiWindowReported, from the metrics topic)

Order independence: every column is set by exactly one fact type, or merged with an order-free rule
(min/max of offsets and times, "highest seq wins" for repeated reports such as media quality), and the
derived columns (disposition, post-dial delay, duration) are recomputed from the stored columns after
every fact. So a call's facts folded in any order, with any duplicates dropped by event_id, give the
same rows as the log's order does.

Disposition, from the stored columns (first rule that matches):

    CallRejected seen            busy (486, 600), no-answer (408, 480), failed (5xx or stage internal/
                                 media/overload), otherwise rejected
    not finished yet             in-progress
    cancelled before answer      cancelled
    answered                     failed if the ACK never came (end reason ack_timeout), transferred if
                                 the call ended by transfer, otherwise answered
    ended unanswered             by end reason/status: cancelled, rejected, no-answer, otherwise failed

Post-dial delay (PDD) is INVITE received → final response: `CallEnded.setup_ms` when the edge measured
it, else answered_at - invite_at, else rejected_at - invite_at. Duration is `CallEnded.talk_ms`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from schemas import models as m
from schemas.turn_ids import EARLY_ENGINE

IN_PROGRESS: Final = "in-progress"
DISPOSITIONS: Final = (
    "answered",
    "transferred",
    "rejected",
    "busy",
    "cancelled",
    "no-answer",
    "failed",
    IN_PROGRESS,
)
BUSY_STATUSES: Final = frozenset({486, 600})
NO_ANSWER_STATUSES: Final = frozenset({408, 480})
FAILED_STAGES: Final = frozenset({"internal", "media", "overload"})
CALLER: Final = "caller"
AGENT: Final = "agent"


@dataclass(frozen=True, slots=True)
class LogPosition:
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class CallRow:
    call_id: str
    sip_call_id: str | None = None
    caller: str | None = None
    callee: str | None = None
    from_uri: str | None = None
    to_uri: str | None = None
    channel: str | None = None
    direction: str = "inbound"  # "outbound": the edge placed the call (OriginateCall)
    early_media: bool | None = None  # an outbound call heard early media (183 with SDP) before its answer
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
    transfer_leg_call_id: str | None = None  # a bridged transfer: the edge's own call to the target
    degraded_reason: str | None = None  # the edge served the call itself (CallDegraded): why
    log_topic: str | None = None
    log_partition: int | None = None
    first_offset: int | None = None
    last_offset: int | None = None
    event_count: int = 0
    disposition: str = IN_PROGRESS
    pdd_ms: float | None = None
    duration_ms: int | None = None
    finished_at: datetime | None = None
    tenant: str = "default"  # the business the call belongs to (issue 15); older facts: "default"
    parent_call_id: str | None = None  # a transfer's leg (the edge's call to the target): the caller's


@dataclass(frozen=True, slots=True)
class TurnRow:
    call_id: str
    turn_id: str
    speaker: str | None = None
    at: datetime | None = None
    text: str | None = None
    language: str | None = None
    confidence: float | None = None
    utterance_id: str | None = None
    intent: str | None = None
    end_conversation: bool | None = None
    captured_at: datetime | None = None
    audio_start_ms: int | None = None
    audio_end_ms: int | None = None
    end_of_speech: str | None = None
    transcribed_at: datetime | None = None
    stt_engine: str | None = None
    stt_latency_ms: float | None = None
    transcript_seq: int | None = None
    replied_at: datetime | None = None
    dialog_engine: str | None = None
    dialog_latency_ms: float | None = None
    synthesized_at: datetime | None = None
    tts_engine: str | None = None
    tts_latency_ms: float | None = None
    tenant: str = "default"


@dataclass(frozen=True, slots=True)
class PlaybackRow:
    call_id: str
    playback_id: str
    started_at: datetime | None = None
    source_uri: str | None = None
    duration_ms: int | None = None
    finished_at: datetime | None = None
    interrupted: bool | None = None
    played_ms: int | None = None
    finish_reason: str | None = None
    tenant: str = "default"


@dataclass(frozen=True, slots=True)
class DtmfRow:
    call_id: str
    event_id: UUID
    seq: int
    at: datetime
    digit: str
    duration_ms: int
    method: str
    tenant: str = "default"


@dataclass(frozen=True, slots=True)
class KpiWindowRow:
    source: str
    window_start: datetime
    window_end: datetime
    calls_offered: int
    calls_answered: int
    calls_ended: int
    calls_rejected: int
    asr: float | None
    acd_ms: float | None
    pdd_ms_p50: float | None
    pdd_ms_p95: float | None
    stt_ms_p50: float | None
    stt_ms_p95: float | None
    dialog_ms_p50: float | None
    dialog_ms_p95: float | None
    tts_ms_p50: float | None
    tts_ms_p95: float | None
    v2v_ms_p50: float | None
    v2v_ms_p95: float | None
    tenant: str = "default"  # "*": the whole platform's window


def columns(row_type: type[Any]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(row_type))


def as_tuple(row: Any) -> tuple[Any, ...]:
    return dataclasses.astuple(row)


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


def _ms(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return (later - earlier).total_seconds() * 1000.0


def _rejected_disposition(status: int | None, stage: str | None) -> str:
    if status in BUSY_STATUSES:
        return "busy"
    if status in NO_ANSWER_STATUSES:
        return "no-answer"
    if (status is not None and status >= 500) or stage in FAILED_STAGES:
        return "failed"
    return "rejected"


# An outbound attempt's CallRejected names its disposition (edge.uac.disposition) in its reason.
OUTBOUND_DISPOSITIONS: Final = {
    "busy": "busy",
    "no_answer": "no-answer",
    "failed": "failed",
    "cancelled": "cancelled",
}


def disposition(row: CallRow) -> str:
    if row.rejected_at is not None and row.reject_stage == "outbound":
        return OUTBOUND_DISPOSITIONS.get(row.reject_reason or "", "failed")
    if row.rejected_at is not None:
        return _rejected_disposition(row.reject_status, row.reject_stage)
    if row.ended_at is None and row.cancelled_at is None:
        return IN_PROGRESS
    if row.answered_at is None and row.cancelled_at is not None:
        return "cancelled"
    if row.answered_at is not None:
        if row.end_reason == "ack_timeout":
            return "failed"
        if row.end_reason == "transferred":
            return "transferred"
        return "answered"
    if row.end_reason == "cancelled" or row.end_sip_status == 487:
        return "cancelled"
    if row.end_reason == "rejected":
        return _rejected_disposition(row.end_sip_status, None)
    if row.end_sip_status in NO_ANSWER_STATUSES:
        return "no-answer"
    return "failed"


def derive(row: CallRow) -> CallRow:
    """Recompute the derived columns from the stored ones."""
    pdd = row.setup_ms
    if pdd is None:
        pdd = _ms(row.answered_at, row.invite_at)
    if pdd is None:
        pdd = _ms(row.rejected_at, row.invite_at)
    duration = row.talk_ms
    if duration is None and row.ended_at is not None and row.answered_at is not None:
        duration = int(_ms(row.ended_at, row.answered_at) or 0)
    finished = row.ended_at or row.rejected_at or row.cancelled_at
    return replace(row, disposition=disposition(row), pdd_ms=pdd, duration_ms=duration, finished_at=finished)


def _call_changes(row: CallRow, fact: Any) -> dict[str, Any]:
    at = fact.occurred_at
    match fact:
        case m.CallInviteReceived():
            return {
                "sip_call_id": fact.sip_call_id,
                "caller": fact.caller,
                "callee": fact.callee,
                "from_uri": fact.from_uri,
                "to_uri": fact.to_uri,
                "channel": fact.channel,
                "direction": fact.direction,
                "transport": fact.transport,
                "remote_addr": fact.remote_addr,
                "user_agent": fact.user_agent,
                "edge_node": fact.source,
                "invite_at": at,
                "parent_call_id": fact.parent_call_id,
            }
        case m.DialplanResolved():
            return {
                "dialplan_id": fact.dialplan_id,
                "dialplan_action": fact.action,
                "language": fact.language,
            }
        case m.MediaPortAllocated():
            return {"rtp_port": fact.rtp_port}
        case m.CallAnswered():
            return {"answered_at": at, "codec": fact.codec, "srtp": fact.srtp}
        case m.CallEstablished():
            return {"established_at": at}
        case m.CallRejected():
            return {
                "rejected_at": at,
                "reject_status": fact.sip_status,
                "reject_reason": fact.reason,
                "reject_stage": fact.stage,
            }
        case m.CallCancelled():
            return {"cancelled_at": at, "cancel_reason": fact.reason}
        case m.CallEnded():
            return {
                "ended_at": at,
                "end_reason": fact.reason,
                "hangup_by": fact.hangup_by,
                "end_sip_status": fact.sip_status,
                "setup_ms": fact.setup_ms,
                "talk_ms": fact.talk_ms,
                "total_ms": fact.total_ms,
                "early_media": fact.early_media or None,
            }
        case m.MediaQualityReported() if (fact.final, fact.seq) > (
            bool(row.quality_final),
            -1 if row.quality_seq is None else row.quality_seq,
        ):
            return {
                "mos": fact.mos,
                "r_factor": fact.r_factor,
                "loss_fraction": fact.loss_fraction,
                "jitter_ms": fact.jitter_ms,
                "rtt_ms": fact.rtt_ms,
                "packets_received": fact.packets_received,
                "packets_lost": fact.packets_lost,
                "quality_final": fact.final,
                "quality_seq": fact.seq,
            }
        case m.RecordingFinished() if row.recording_seq is None or fact.seq > row.recording_seq:
            return {
                "recording_uri": fact.uri,
                "recording_format": fact.format,
                "recording_bytes": fact.size_bytes,
                "recording_ms": fact.duration_ms,
                "recording_seq": fact.seq,
            }
        case m.CallTransferred() if row.transfer_seq is None or fact.seq > row.transfer_seq:
            return {
                "transfer_target": fact.target_uri,
                "transfer_status": fact.status,
                "transfer_seq": fact.seq,
                "transfer_leg_call_id": fact.leg_call_id,
            }
        case m.CallDegraded() if row.degraded_reason is None:  # the first reason is the cause
            return {"degraded_reason": fact.reason}
        case m.CallMediaUpdated() | m.SipMessageObserved():  # SipMessageObserved: the ladder, not the CDR
            return {}
    return {}


def fold_call(row: CallRow, fact: Any, pos: LogPosition | None = None) -> CallRow:
    """The call row after one more fact of the call (already de-duplicated)."""
    changes = _call_changes(row, fact)
    changes |= tenant_change(row, fact)
    changes["event_count"] = row.event_count + 1
    if pos is not None:
        if row.log_topic is None:
            changes["log_topic"] = pos.topic
            changes["log_partition"] = pos.partition
        changes["first_offset"] = _min(row.first_offset, pos.offset)
        changes["last_offset"] = _max(row.last_offset, pos.offset)
    return derive(replace(row, **changes))


def tenant_change(row: Any, fact: Any) -> dict[str, Any]:
    """The row's tenant after one more fact: the edge stamps every fact of a call alike, so any fact
    naming a tenant other than "default" names the call's; "default" (also what a fact written before
    tenants decodes into) never overrides one, which keeps the fold order-free."""
    if fact.tenant != row.tenant and fact.tenant != "default":
        return {"tenant": fact.tenant}
    return {}


def turn_key(fact: Any) -> str | None:
    """The transcript turn a fact belongs to: the utterance id (caller) or the reply id (agent)."""
    match fact:
        case m.UtteranceTranscribed() if fact.engine == EARLY_ENGINE:
            return None  # the dialog's early turn: the caller's turn is the utterance it was taken from
        case m.UtteranceCaptured() | m.UtteranceTranscribed():
            return fact.utterance_id
        case m.AgentReplied() | m.SpeechSynthesized():
            return fact.reply_id
    return None


def fold_turn(row: TurnRow, fact: Any) -> TurnRow:
    at = fact.occurred_at
    changes: dict[str, Any] = {"at": _min(row.at, at), **tenant_change(row, fact)}
    match fact:
        case m.UtteranceCaptured():
            changes |= {
                "speaker": CALLER,
                "captured_at": at,
                "audio_start_ms": fact.start_ms,
                "audio_end_ms": fact.end_ms,
                "end_of_speech": fact.end_reason,
            }
            if row.transcript_seq is None and fact.text is not None:
                changes["text"] = fact.text
        case m.UtteranceTranscribed():
            if not fact.is_final:
                return replace(row, **tenant_change(row, fact))
            changes["speaker"] = CALLER
            if row.transcript_seq is None or fact.seq > row.transcript_seq:
                changes |= {
                    "text": fact.text,
                    "language": fact.language,
                    "confidence": fact.confidence,
                    "transcribed_at": at,
                    "stt_engine": fact.engine,
                    "stt_latency_ms": fact.latency_ms,
                    "transcript_seq": fact.seq,
                }
        case m.AgentReplied() if not fact.final:
            changes["speaker"] = AGENT  # a sentence of a streamed reply: the final fact is the turn
        case m.AgentReplied():
            changes |= {
                "speaker": AGENT,
                "text": fact.text,
                "utterance_id": fact.utterance_id,
                "intent": fact.intent,
                "end_conversation": fact.end_conversation,
                "replied_at": at,
                "dialog_engine": fact.engine,
                "dialog_latency_ms": fact.latency_ms,
            }
        case m.SpeechSynthesized() if fact.part and row.synthesized_at is not None:
            pass  # a later piece of a streamed reply: the turn keeps its first audio's time and cost
        case m.SpeechSynthesized():
            changes |= {
                "speaker": AGENT,
                "synthesized_at": at,
                "tts_engine": fact.engine,
                "tts_latency_ms": fact.latency_ms,
            }
            if row.replied_at is None:
                changes["text"] = fact.text
        case _:
            return row
    return replace(row, **changes)


def fold_playback(row: PlaybackRow, fact: Any) -> PlaybackRow:
    tenant = tenant_change(row, fact)
    match fact:
        case m.PlaybackStarted():
            return replace(
                row,
                started_at=fact.occurred_at,
                source_uri=fact.source_uri,
                duration_ms=fact.duration_ms,
                **tenant,
            )
        case m.PlaybackFinished():
            changes: dict[str, Any] = {
                **tenant,
                "finished_at": fact.occurred_at,
                "interrupted": fact.interrupted,
                "played_ms": fact.played_ms,
                "finish_reason": fact.reason,
            }
            if row.started_at is None:
                changes["duration_ms"] = fact.duration_ms
            return replace(row, **changes)
    return row


def dtmf_row(fact: m.DtmfReceived) -> DtmfRow:
    return DtmfRow(
        fact.call_id,
        fact.event_id,
        fact.seq,
        fact.occurred_at,
        fact.digit,
        fact.duration_ms,
        fact.method,
        fact.tenant,
    )


def kpi_window_row(fact: m.KpiWindowReported) -> KpiWindowRow:
    values = fact.to_record()
    return KpiWindowRow(**{name: values[name] for name in columns(KpiWindowRow)})


CALL_FACTS: Final = tuple(t for t in m.ALL_MODELS if t.FAMILY == "events")


class Projection:
    """Folds a batch of records over rows loaded from the store and remembers what changed.

    The projector loads the rows of the calls a batch touches (and the batch's already-processed
    event ids), applies every record in log order, then writes `changed_*()` and `new_events`
    together with the new offsets in one transaction.
    """

    def __init__(
        self,
        *,
        calls: dict[str, CallRow] | None = None,
        turns: dict[tuple[str, str], TurnRow] | None = None,
        playbacks: dict[tuple[str, str], PlaybackRow] | None = None,
        seen: set[UUID] | None = None,
    ) -> None:
        self.calls = calls or {}
        self.turns = turns or {}
        self.playbacks = playbacks or {}
        self.dtmf: dict[tuple[str, UUID], DtmfRow] = {}
        self.kpi_windows: dict[tuple[str, str, datetime], KpiWindowRow] = {}
        self.seen = seen or set()
        self.new_events: list[tuple[UUID, str | None]] = []
        self.duplicates = 0
        self._dirty_calls: set[str] = set()
        self._dirty_turns: set[tuple[str, str]] = set()
        self._dirty_playbacks: set[tuple[str, str]] = set()

    def apply(self, record: Any, pos: LogPosition | None = None) -> bool:
        """Fold one record; False when it is a duplicate or not a projected record type."""
        if isinstance(record, m.KpiWindowReported):
            if not self._first_time(record.event_id, None):
                return False
            row = kpi_window_row(record)
            self.kpi_windows[(row.tenant, row.source, row.window_start)] = row
            return True
        if not isinstance(record, CALL_FACTS):
            return False
        if not self._first_time(record.event_id, record.call_id):
            return False
        call_id = record.call_id
        self.calls[call_id] = fold_call(self.calls.get(call_id) or CallRow(call_id), record, pos)
        self._dirty_calls.add(call_id)
        turn = turn_key(record)
        if turn is not None:
            key = (call_id, turn)
            self.turns[key] = fold_turn(self.turns.get(key) or TurnRow(call_id, turn), record)
            self._dirty_turns.add(key)
        elif isinstance(record, m.PlaybackStarted | m.PlaybackFinished):
            key = (call_id, record.playback_id)
            self.playbacks[key] = fold_playback(self.playbacks.get(key) or PlaybackRow(*key), record)
            self._dirty_playbacks.add(key)
        elif isinstance(record, m.DtmfReceived):
            self.dtmf[(call_id, record.event_id)] = dtmf_row(record)
        return True

    def _first_time(self, event_id: UUID, call_id: str | None) -> bool:
        if event_id in self.seen:
            self.duplicates += 1
            return False
        self.seen.add(event_id)
        self.new_events.append((event_id, call_id))
        return True

    def changed_calls(self) -> list[CallRow]:
        return [self.calls[k] for k in sorted(self._dirty_calls)]

    def changed_turns(self) -> list[TurnRow]:
        return [self.turns[k] for k in sorted(self._dirty_turns)]

    def changed_playbacks(self) -> list[PlaybackRow]:
        return [self.playbacks[k] for k in sorted(self._dirty_playbacks)]
