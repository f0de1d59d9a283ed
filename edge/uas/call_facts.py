"""The facts the UAS core records, one typed method per fact model.

Each method names the fact's fields with their types, so a misspelt or mistyped field is a type
error at the call site, not a failure at run time.  The record goes to the edge's
:class:`~edge.facts.FactSink` (which stamps and scrubs it); a sink that refuses it (``BufferFull``)
is counted and logged, never raised: a fact the log cannot take must not stop a call.
"""

from __future__ import annotations

from typing import Any

import structlog

from edge import metrics as m
from edge.facts import FactSink
from schemas import models as f

log = structlog.get_logger(__name__)


class CallFacts:
    """The UAS core's fact vocabulary over one sink."""

    __slots__ = ("sink",)

    def __init__(self, sink: FactSink) -> None:
        self.sink = sink

    def _emit(self, call_id: str, model: type[Any], fields: dict[str, Any]) -> None:
        try:
            self.sink.emit(call_id, model, **fields)
        except Exception as exc:  # BufferFull: counted; the call goes on
            m.FACT_ERRORS.inc()
            log.error("call fact refused", fact=model.__name__, error=str(exc), call_id=call_id)

    def forget(self, call_id: str) -> None:
        """The call's last fact is recorded: the sink may drop its per-call state."""
        forget = getattr(self.sink, "forget", None)
        if forget is not None:
            forget(call_id)

    def invite_received(
        self,
        call_id: str,
        *,
        sip_call_id: str,
        from_uri: str,
        to_uri: str,
        caller: str,
        callee: str,
        remote_addr: str,
        transport: str,
        sdp_offer: str | None,
        user_agent: str | None,
        raw_invite: bytes | None,
    ) -> None:
        self._emit(
            call_id,
            f.CallInviteReceived,
            {
                "sip_call_id": sip_call_id,
                "from_uri": from_uri,
                "to_uri": to_uri,
                "caller": caller,
                "callee": callee,
                "remote_addr": remote_addr,
                "transport": transport,
                "sdp_offer": sdp_offer,
                "user_agent": user_agent,
                "raw_invite": raw_invite,
            },
        )

    def dialplan_resolved(
        self,
        call_id: str,
        *,
        dialplan_id: str,
        action: str,
        target: str | None,
        prompt_uri: str | None,
        language: str,
    ) -> None:
        self._emit(
            call_id,
            f.DialplanResolved,
            {
                "dialplan_id": dialplan_id,
                "action": action,
                "target": target,
                "prompt_uri": prompt_uri,
                "language": language,
            },
        )

    def media_port_allocated(self, call_id: str, *, rtp_port: int, local_address: str) -> None:
        self._emit(call_id, f.MediaPortAllocated, {"rtp_port": rtp_port, "local_address": local_address})

    def call_answered(
        self,
        call_id: str,
        *,
        codec: str,
        payload_type: int,
        ptime_ms: int,
        srtp: bool,
        remote_rtp_addr: str | None,
        sdp_answer: str,
    ) -> None:
        self._emit(
            call_id,
            f.CallAnswered,
            {
                "codec": codec,
                "payload_type": payload_type,
                "ptime_ms": ptime_ms,
                "srtp": srtp,
                "remote_rtp_addr": remote_rtp_addr,
                "sdp_answer": sdp_answer,
            },
        )

    def call_degraded(self, call_id: str, *, reason: str, action: str, waited_ms: float) -> None:
        self._emit(call_id, f.CallDegraded, {"reason": reason, "action": action, "waited_ms": waited_ms})

    def call_established(self, call_id: str, *, ack_delay_ms: float) -> None:
        self._emit(call_id, f.CallEstablished, {"ack_delay_ms": ack_delay_ms})

    def call_cancelled(self, call_id: str) -> None:
        self._emit(call_id, f.CallCancelled, {})

    def call_rejected(self, call_id: str, *, sip_status: int, reason: str, stage: str) -> None:
        self._emit(call_id, f.CallRejected, {"sip_status": sip_status, "reason": reason, "stage": stage})

    def call_ended(
        self,
        call_id: str,
        *,
        reason: str,
        hangup_by: str,
        sip_status: int,
        setup_ms: float | None,
        talk_ms: int,
        total_ms: int,
    ) -> None:
        self._emit(
            call_id,
            f.CallEnded,
            {
                "reason": reason,
                "hangup_by": hangup_by,
                "sip_status": sip_status,
                "setup_ms": setup_ms,
                "talk_ms": talk_ms,
                "total_ms": total_ms,
            },
        )

    def media_port_released(self, call_id: str, *, rtp_port: int) -> None:
        self._emit(call_id, f.MediaPortReleased, {"rtp_port": rtp_port})

    def call_transferred(
        self, call_id: str, *, target_uri: str, status: str, sip_status: int | None = None
    ) -> None:
        fields: dict[str, Any] = {"target_uri": target_uri, "status": status}
        if sip_status is not None:
            fields["sip_status"] = sip_status
        self._emit(call_id, f.CallTransferred, fields)

    def dtmf_received(self, call_id: str, *, digit: str, duration_ms: int, method: str) -> None:
        self._emit(call_id, f.DtmfReceived, {"digit": digit, "duration_ms": duration_ms, "method": method})

    def call_media_updated(
        self, call_id: str, *, direction: str, remote_rtp_addr: str | None, codec: str
    ) -> None:
        self._emit(
            call_id,
            f.CallMediaUpdated,
            {"direction": direction, "remote_rtp_addr": remote_rtp_addr, "codec": codec},
        )
