"""The edge's SIP user-agent server core (RFC 3261 §8.2, §12-§17), sans-IO: the router.

``receive(data, peer, now)`` takes one datagram (or one TCP frame) and returns effects:
:class:`~edge.sip.transaction.Send` (bytes for a peer) and the media effects of
:mod:`edge.uas.call`; ``on_timer(now)`` runs what is due and ``next_deadline`` says when to call it
again.  ``hangup`` / ``transfer`` apply the dialog's commands; ``media_closed`` is the driver's
report that a media session has stopped, after which the RTP port goes back to the pool.

Call setup is event-sourced and never waits on the log (DESIGN.md, the seed's sequence)::

    INVITE ─▶ CallInviteReceived ─▶ admission ─▶ dialplan (DialplanResolved | CallRejected)
    ─▶ access [403 trunks only | digest 401 ↺] ─▶ SDP check (488) ─▶ port (MediaPortAllocated | 503)
    ─▶ [180, ring time] ─▶ 200 OK + SDP (CallAnswered) ─▶ ACK (CallEstablished)

Before anything is parsed, a message from a source that is not a configured trunk passes the
per-source gate of :mod:`edge.uas.ratelimit` (blocked after failed authentication, oversized UDP,
token buckets for INVITE/REGISTER/OPTIONS): a refused one is dropped and counted, unanswered.  A
request that would make us echo too much (:mod:`edge.sip.limits`) is dropped over UDP and answered
513 over TCP.

Every refusal answers a final status, records ``CallRejected`` then ``CallEnded`` and gives the
port back (``MediaPortReleased`` last), so no half-set-up call remains.  Everything that fails
inside the core is caught here: nothing raises out to the transport.

The work is split by stage, one module each, stacked as mixins over :class:`~edge.uas.base.CoreBase`
(shared state and transaction plumbing): :mod:`edge.uas.teardown` (BYE, rejection, port release),
:mod:`edge.uas.in_dialog` (BYE/re-INVITE/INFO/NOTIFY/REFER and responses to our requests),
:mod:`edge.uas.setup` (INVITE to ACK, CANCEL) and :mod:`edge.uas.registration` (REGISTER).  This
module only parses, routes requests and timers to them, and guards the transport from exceptions.
"""

from __future__ import annotations

import structlog

from edge import metrics as m
from edge.sip.builders import bad_request_for
from edge.sip.errors import SipParseError
from edge.sip.limits import excess
from edge.sip.message import SipRequest, parse_message
from edge.sip.transaction import (
    InviteServerTransaction,
    Refused,
    Send,
    server_key,
)
from edge.uas.base import (
    ALLOW,
    IN_DIALOG_ONLY,
    KNOWN_UNSUPPORTED,
    Effect,
    UasConfig,
    method_label,
)
from edge.uas.call import CallState, Peer
from edge.uas.ratelimit import LIMITED_METHODS
from edge.uas.registration import Registration
from edge.uas.setup import CallSetup

log = structlog.get_logger(__name__)

__all__ = ["Effect", "UasConfig", "UasCore"]

# ACKs and responses are parsed lazily (Via/From/To/Contact on first use, about twice as fast): no reply
# is ever owed to them, so a malformed header found late is dropped and counted like one found early.
LAZY = (b"ACK ", b"SIP/2.0 ")


class UasCore(CallSetup, Registration):
    """The UAS: parse, route by method and dialog, run due timers."""

    def receive(self, data: bytes, peer: Peer, now: float) -> list[Effect]:
        out: list[Effect] = []
        if self.directory.trunk_for(peer.addr[0]) is None:
            refused = self.guard.check(peer.addr[0], data, peer.transport, now)
            if refused is not None:
                reason, method = refused
                if reason == "rate_limited":
                    m.RATE_LIMITED.labels(LIMITED_METHODS[method]).inc()
                else:
                    m.DROPPED.labels(reason).inc()
                return out
        try:
            msg = parse_message(data, strict=not data.startswith(LAZY))
        except SipParseError as exc:
            reply = bad_request_for(exc) if exc.partial is None or exc.partial.method != "ACK" else None
            m.PARSE_ERRORS.labels("replied" if reply else "dropped").inc()
            log.debug("malformed SIP message", error=str(exc), peer=str(peer))
            if reply is not None:
                out.append(Send(bytes(reply), peer))
                m.RESPONSES_SENT.labels(method_label(exc.partial.method), m.status_class(reply.status)).inc()
            return out
        try:
            if isinstance(msg, SipRequest):
                self._received = data  # the octets as they came, for CallInviteReceived.raw_invite
                self._request(msg, peer, now, out)
            else:
                self._response(msg, peer, now, out)
        except SipParseError as exc:  # a lazily parsed header of an ACK or a response: never answered
            m.PARSE_ERRORS.labels("dropped").inc()
            log.debug("malformed SIP message", error=str(exc), peer=str(peer))
        except Exception:  # the transport must never see an exception
            log.exception("SIP message handling failed", peer=str(peer))
        return out

    def on_timer(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        for kind, key in self.timers.pop_due(now):
            try:
                if kind == "st" or kind == "ct":
                    self._txn_timer(kind, key, now, out)  # type: ignore[arg-type]  # timer keys are untyped tuples keyed by kind
                elif kind == "ok":
                    self._ok_timer(key, now, out)  # type: ignore[arg-type]  # timer keys are untyped tuples keyed by kind
                elif kind == "call":
                    self._call_timer(key, now, out)  # type: ignore[arg-type]  # timer keys are untyped tuples keyed by kind
            except Exception:
                log.exception("SIP timer handling failed", kind=kind)
        return out

    def _call_timer(self, call_id: str, now: float, out: list[Effect]) -> None:
        call = self.calls.get(call_id)
        if call is None:
            return
        if call.state is CallState.RINGING and call.ring_until is not None:
            if now >= call.ring_until:
                call.ring_until = None
                self._answer(call, now, out)
            else:
                self.timers.schedule(("call", call_id), call.ring_until)
        elif call.state is CallState.CHALLENGED and call.timer_at is not None:
            if now >= call.timer_at:
                self._reject(call, 401, "auth_challenge_unanswered", "auth", now, out, respond=False)
            else:
                self.timers.schedule(("call", call_id), call.timer_at)
        elif call.state is CallState.ESTABLISHED and self.config.media_timeout_s > 0:
            self._check_media(call, now, out)

    def _request(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        m.REQUESTS.labels(method_label(req.method)).inc()
        layer = self.layers[peer.transport]
        too_much = excess(req, self.config.echo) if req.method != "ACK" else None
        if too_much is not None:
            m.DROPPED.labels(too_much).inc()
            if peer.transport == "udp":
                return  # answering would echo the bulk to an address nobody vouched for
        for_tu, actions = layer.receive_request(req, peer, now)
        if any(isinstance(a, Refused) for a in self._absorb(peer.transport, actions, out)):
            m.DROPPED.labels("foreign_source").inc()
        if for_tu is not None and too_much is not None:
            self._respond(req, peer, 513, now, out)
            return
        if for_tu is not None and peer.transport == "udp" and req.method == "INVITE":
            txn = layer.transaction_for(req)
            if isinstance(txn, InviteServerTransaction) and self._trunk(peer) is None:
                txn.quiet = True  # no timer G towards an unproven source (see edge.uas.base)
        if for_tu is None:  # a retransmission the transaction layer answered or absorbed
            txn = layer.transaction_for(req)
            if txn is not None:
                self.timers.schedule(("st", (peer.transport, server_key(req))), txn.next_deadline)
            return
        if req.method != "ACK":
            m.TRANSACTIONS.labels("server").inc()
        try:
            self._dispatch(req, peer, now, out)
        except SipParseError as exc:
            if req.method != "ACK":
                self._respond(req, peer, 400, now, out, reason=f"Bad Request ({exc})"[:120])
            else:  # a lazily parsed ACK: dropped, as a strict parse would have
                m.PARSE_ERRORS.labels("dropped").inc()
        finally:
            m.TRANSACTIONS_ACTIVE.set(sum(len(x.server) + len(x.client) for x in self.layers.values()))

    def _dispatch(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        method = req.method
        to_tag = req.to_addr.tag
        if method == "ACK":
            self._ack(req, now, out)
        elif method == "CANCEL":
            self._cancel(req, peer, now, out)
        elif to_tag:
            call = self._by_dialog.get((req.call_id, to_tag, req.from_addr.tag or ""))
            if call is None or call.dialog is None:
                self._respond(req, peer, 481, now, out)
            else:
                self._in_dialog(call, req, peer, now, out)
        elif method == "INVITE":
            self._invite(req, peer, now, out)
        elif method == "OPTIONS":
            self._options(req, peer, now, out)
        elif method == "REGISTER":
            self._register(req, peer, now, out)
        elif method in IN_DIALOG_ONLY or method == "REFER":
            self._respond(req, peer, 481, now, out)
        elif method in KNOWN_UNSUPPORTED:
            self._respond(req, peer, 405, now, out, headers=[("Allow", ALLOW)])
        else:
            self._respond(req, peer, 501, now, out, headers=[("Allow", ALLOW)])
