"""Ending calls (RFC 3261 §15): BYE from the edge, rejections, CallEnded, and giving the port back.

A call ends exactly once: ``finish`` records ``CallEnded``, asks the driver to close media and,
once media is closed (``media_closed``), releases the RTP port (``MediaPortReleased`` is the call's
last fact).  The edge never sends BYE before the ACK of its 2xx (§15): a hang-up that arrives in
between waits in ``hangup_pending``.  A 2xx never ACKed is retransmitted until 64·T1 (for an
unproven UDP peer only a few copies, see :mod:`edge.uas.core`), then the edge sends BYE
(§13.3.1.4) — to a proven peer only: an unproven one that never ACKed may be a spoofed victim, so
its call just ends (``ack_timeout``).
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from edge import call_facts as cf
from edge import metrics as m
from edge.effects import Send
from edge.media.ports import PortPool
from edge.sip.transaction import AckTimeout
from edge.uas.addresses import LocalAddresses
from edge.uas.call import Call, CallState, CloseMedia, Effect
from edge.uas.call_facts import CallFacts
from edge.uas.call_table import CallTable
from edge.uas.routing import call_hop
from edge.uas.timers import CallDue, CoreTimers, OkRetransmit
from edge.uas.transactions import Transactions

log = structlog.get_logger(__name__)


class Teardown:
    """Hang-up, rejection and the release of a call's resources."""

    def __init__(
        self,
        *,
        table: CallTable,
        txns: Transactions,
        facts: CallFacts,
        pool: PortPool,
        timers: CoreTimers,
        local: LocalAddresses,
        media_timeout_s: float,
        media_activity: Callable[[str], float | None],
    ) -> None:
        self.table = table
        self.txns = txns
        self.facts = facts
        self.pool = pool
        self.timers = timers
        self.local = local
        self.media_timeout_s = media_timeout_s
        self.media_activity = media_activity
        # told of every call whose CallEnded was just recorded (the transfer bridge ends its partner)
        self.on_ended: Callable[[Call, float, list[Effect]], None] | None = None

    def hangup(self, call_id: str, reason: str, now: float, by: str = "agent") -> list[Effect]:
        """The ``Hangup`` command (the dialog's, or an ``operator``'s): BYE an answered call, 480 one
        still ringing."""
        out: list[Effect] = []
        call = self.table.get(call_id)
        if call is None or not call.live:
            return out
        if call.state in (CallState.NEW, CallState.RINGING, CallState.CHALLENGED):
            self.reject(call, 480, reason, "internal", now, out, hangup_by=by)
        else:
            self.send_bye(call, reason, by, now, out)
        return out

    def media_closed(self, call_id: str, now: float) -> None:
        """The media session of an ended call has stopped: give its port back."""
        call = self.table.get(call_id)
        if call is not None:
            call.media_open = False
            self.release_port(call, now)

    def ok_timer(self, call_id: str, now: float, out: list[Effect]) -> None:
        """The 2xx retransmitter is due: resend, or give up waiting for the ACK."""
        call = self.table.get(call_id)
        if call is None or call.ok is None:
            return
        for a in call.ok.on_timer(now):
            if isinstance(a, Send):
                out.append(a)
                m.RETRANSMISSIONS.inc()
            elif isinstance(a, AckTimeout):
                call.ok = None
                log.info("no ACK for 200 OK, ending the call", call_id=call.call_id, bye=call.proven)
                if call.proven:
                    self.send_bye(call, "ack_timeout", "system", now, out, force=True)
                else:  # no BYE to an address that never showed it wanted our messages
                    call.fire("end")
                    self.finish(call, "ack_timeout", "system", 200, now, out)
                return
        self.timers.schedule(OkRetransmit(call_id), call.ok.next_deadline)

    def check_media(self, call: Call, now: float, out: list[Effect]) -> None:
        """No RTP for ``media_timeout_s`` (and not on hold) ends an established call with BYE."""
        timeout = self.media_timeout_s
        assert call.established_at is not None
        if call.on_hold:
            call.timer_at = now + timeout
        else:
            last = max(call.established_at, self.media_activity(call.call_id) or 0.0)
            if now - last >= timeout:
                self.send_bye(call, "media_timeout", "system", now, out)
                return
            call.timer_at = last + timeout
        self.timers.schedule(CallDue(call.call_id), call.timer_at)

    def send_bye(
        self, call: Call, reason: str, hangup_by: str, now: float, out: list[Effect], *, force: bool = False
    ) -> None:
        if not call.live or call.dialog is None:
            return
        if call.state is CallState.ANSWERED and call.ok is not None and not force:
            call.hangup_pending = reason  # no BYE before the ACK (§15)
            return
        if call.ok is not None:
            call.ok.ack_received()
            call.ok = None
        hop = call_hop(call)
        bye = call.dialog.make_request(
            "BYE",
            via_host=self.local.host,
            via_port=self.local.port_for(hop.transport),
            transport=hop.transport.upper(),
            headers=[("Reason", f'SIP;cause=200;text="{reason}"')],
        )
        self.txns.send_request(call, bye, hop, now, out)
        call.fire("bye_sent")
        self.finish(call, reason, hangup_by, call.final_status or 200, now, out)

    def reject(
        self,
        call: Call,
        status: int,
        reason: str,
        stage: str,
        now: float,
        out: list[Effect],
        *,
        headers: list[tuple[str, str]] | None = None,
        respond: bool = True,
        hangup_by: str = "system",
    ) -> None:
        """Refuse the INVITE with ``status`` (unless ``respond`` is False): CallRejected, then the end."""
        if respond:
            self.txns.respond(
                call.invite, call.peer, status, now, out, to_tag=call.local_tag, headers=headers or []
            )
        call.final_status = status
        m.INVITES_REJECTED.labels(reason).inc()
        self.facts.record(cf.call_rejected(call.call_id, sip_status=status, reason=reason, stage=stage))
        call.fire("end")
        self.finish(call, "rejected" if hangup_by == "system" else reason, hangup_by, status, now, out)

    def finish(
        self, call: Call, reason: str, hangup_by: str, status: int, now: float, out: list[Effect]
    ) -> None:
        """CallEnded, media stop, and — unless a media session must stop first — the port back."""
        call.end_reason = reason
        self.timers.cancel(CallDue(call.call_id))
        self.timers.cancel(OkRetransmit(call.call_id))
        took = call.durations(now)
        self.facts.record(
            cf.call_ended(
                call.call_id,
                reason=reason,
                hangup_by=hangup_by,
                sip_status=status,
                setup_ms=took.setup_ms,
                talk_ms=took.talk_ms,
                total_ms=took.total_ms,
                disposition=call.disposition,
                early_media=call.early_media,
            )
        )
        m.CALLS_ENDED.labels(reason).inc()
        m.CALLS_ACTIVE.dec()
        self.table.ended(call)
        if call.media_open:
            out.append(CloseMedia(call.call_id))  # the port comes back in media_closed()
        else:
            self.release_port(call, now)
        if call.state is CallState.ENDED:
            self.forget(call)
        if self.on_ended is not None:
            self.on_ended(call, now, out)

    def release_port(self, call: Call, now: float) -> None:
        if call.port is not None:
            self.pool.release(call.port, now)
            self.facts.record(cf.media_port_released(call.call_id, rtp_port=call.port))
            call.port = None
        self.forget(call)

    def forget(self, call: Call) -> None:
        """Drop the call once it is over, its BYE done and its port back."""
        if call.state is not CallState.ENDED or call.media_open or call.port is not None:
            return
        self.table.remove(call)
        self.facts.forget(call.call_id)
