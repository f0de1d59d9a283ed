"""The edge's SIP user-agent server core (RFC 3261 §8.2, §12-§17), sans-IO: the router.

``receive(data, peer, now)`` takes one datagram (or one TCP frame) and returns effects:
:class:`~edge.effects.Send` (bytes for a peer) and the media effects of
:mod:`edge.uas.call`; ``on_timer(now)`` runs what is due and ``next_deadline`` says when to call it
again.  ``hangup`` / ``transfer`` apply the dialog's commands, ``originate`` places an outgoing call
(:mod:`edge.uas.outbound`: once answered it is a call like any other); ``media_closed`` is the driver's
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

**Proof.** A call is *proven* when its peer has shown it receives what the edge sends: it is a
configured trunk, it answered a digest challenge (it echoed our nonce), it came over TCP (the
handshake), or it ACKed our 2xx (the ACK carries our To-tag).  Until then — a UDP source that may be
spoofed — the edge sends it no more than the protocol needs: no timer-G retransmission of a final
error response (the client's own INVITE retransmissions fetch it again, one for one), at most
``unproven_retransmits`` more copies of the 2xx and never, all copies together, more than
``unproven_ratio`` (3) times the INVITE's bytes (the first copy always goes), no BYE when its ACK never
comes, and no RTP (the media session's source policy, told by :class:`~edge.uas.call.ConfirmMedia`
when the ACK arrives).

The work is done by collaborators, one per stage, each holding references to exactly the shared
parts it uses (built once, here): :class:`~edge.uas.teardown.Teardown` (BYE, rejection, port
release), :class:`~edge.uas.in_dialog.InDialog` (BYE/re-INVITE/INFO/NOTIFY/REFER and responses to
our requests), :class:`~edge.uas.setup.CallSetup` (INVITE to ACK, CANCEL) and
:class:`~edge.uas.registration.Registration` (REGISTER), over the shared
:class:`~edge.uas.call_table.CallTable`, :class:`~edge.uas.transactions.Transactions` (the
transaction layers and the 2xx retransmission), :class:`~edge.uas.call_facts.CallFacts` and one
timer heap with typed keys (:mod:`edge.uas.timers`).  This module only parses, routes requests and
timers to them, and guards the transport from exceptions.

**The ladder.** Every message of a call in the table, received or sent, is recorded as
``SipMessageObserved`` by :class:`~edge.uas.ladder.Ladder` (bounded per call and per message; see
there): a received one before it is routed, the sent ones when a step ends (:meth:`UasCore._settle`),
before the calls that step ended are forgotten.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from edge import metrics as m
from edge.effects import Send
from edge.facts import FactSink
from edge.media.ports import PortPool
from edge.sip.builders import bad_request_for
from edge.sip.digest import DigestAuthenticator
from edge.sip.errors import SipParseError
from edge.sip.limits import excess
from edge.sip.message import SipRequest, SipResponse, parse_message
from edge.sip.registrar import Registrar
from edge.sip.transaction import Refused
from edge.uas.addresses import LocalAddresses
from edge.uas.admission import Admission, AdmissionLimits
from edge.uas.bridge import TransferBridges
from edge.uas.call import Call, CallState, Effect, Peer
from edge.uas.call_facts import CallFacts
from edge.uas.call_table import CallTable
from edge.uas.config import UasConfig
from edge.uas.directory import DigestGate, Directory
from edge.uas.in_dialog import InDialog
from edge.uas.ladder import Ladder
from edge.uas.methods import ALLOW, IN_DIALOG_ONLY, KNOWN_UNSUPPORTED, OPTIONS_HEADERS, method_label
from edge.uas.outbound import Originator
from edge.uas.ratelimit import LIMITED_METHODS, SourceGuard
from edge.uas.registration import Registration
from edge.uas.sdp_policy import SdpPolicy
from edge.uas.setup import CallSetup
from edge.uas.teardown import Teardown
from edge.uas.timers import CallDue, CoreTimers, OkRetransmit, OutboundDue, TimerHeap, TransactionsDue
from edge.uas.transactions import Transactions
from edge.uas.trunk_registrations import PREFIX as REGISTRATION
from edge.uas.trunk_registrations import TrunkRegistrations

log = structlog.get_logger(__name__)

__all__ = ["Effect", "UasConfig", "UasCore"]

# ACKs and responses are parsed lazily (Via/From/To/Contact on first use, about twice as fast): no reply
# is ever owed to them, so a malformed header found late is dropped and counted like one found early.
LAZY = (b"ACK ", b"SIP/2.0 ")


class UasCore:
    """The UAS: parse, route by method and dialog, run due timers."""

    def __init__(
        self,
        config: UasConfig,
        *,
        facts: FactSink,
        pool: PortPool,
        directory: Directory,
        admission: Admission | None = None,
        media_activity: Callable[[str], float | None] = lambda call_id: None,
        registrar: Registrar | None = None,
    ) -> None:
        self.config = config
        self.directory = directory
        self.admission = admission or Admission(AdmissionLimits())
        self.guard = SourceGuard(config.limits)
        self.timers: CoreTimers = TimerHeap()
        self.facts = call_facts = CallFacts(facts)
        local = LocalAddresses(config)
        self.ladder = ladder = Ladder(config.ladder, call_facts, local)
        self.table = table = CallTable(on_add=ladder.follow if config.ladder.enabled else None)
        self.txns = txns = Transactions(config, self.timers)
        sdp = SdpPolicy(config)
        gate = DigestGate(
            DigestAuthenticator(config.realm, config.auth_secret, algorithms=config.auth_algorithms),
            directory,
        )
        self.teardown = teardown = Teardown(
            table=table,
            txns=txns,
            facts=call_facts,
            pool=pool,
            timers=self.timers,
            local=local,
            media_timeout_s=config.media_timeout_s,
            media_activity=media_activity,
        )
        self.in_dialog = in_dialog = InDialog(
            table=table, txns=txns, facts=call_facts, sdp=sdp, local=local, teardown=teardown
        )
        self.setup = CallSetup(
            config,
            table=table,
            txns=txns,
            facts=call_facts,
            sdp=sdp,
            local=local,
            timers=self.timers,
            admission=self.admission,
            pool=pool,
            directory=directory,
            gate=gate,
            guard=self.guard,
            teardown=teardown,
            in_dialog=in_dialog,
            ladder=ladder,
        )
        self.registration = Registration(
            registrar=registrar or Registrar(),
            txns=txns,
            gate=gate,
            guard=self.guard,
            require_auth=config.register_auth,
        )
        self.registrations = TrunkRegistrations(config=config, local=local, timers=self.timers)
        self.originator = Originator(
            config=config, table=table, facts=call_facts, local=local, timers=self.timers, pool=pool,
            directory=directory, setup=self.setup, teardown=teardown,
        )  # fmt: skip
        self.bridges = bridges = TransferBridges(
            table=table, facts=call_facts, originator=self.originator, teardown=teardown,
            ring_s=config.transfer_ring_s,
        )  # fmt: skip
        in_dialog.bridge = bridges.start
        teardown.on_ended = bridges.ended
        self.originator.on_answered = bridges.answered

    # -- what the transport and the app read ----------------------------------------------------
    @property
    def calls(self) -> dict[str, Call]:
        """Calls not yet forgotten, by platform call id."""
        return self.table.calls

    @property
    def next_deadline(self) -> float | None:
        return self.timers.next_deadline

    @property
    def active_calls(self) -> int:
        """Calls not yet over (O(1): counted where CallEnded is recorded, not by a scan per INVITE)."""
        return self.table.live

    # -- the dialog's commands and the media driver's report --------------------------------------
    def hangup(self, call_id: str, reason: str, now: float, by: str = "agent") -> list[Effect]:
        """The ``Hangup`` command (``by`` agent or operator): BYE an answered call, 480 one still
        ringing (CANCEL an outgoing one)."""
        out: list[Effect] = []
        if not self.originator.hangup(call_id, reason, now, out):
            out = self.teardown.hangup(call_id, reason, now, by)
        return self._settle(out)

    def sync_registrations(self, now: float, *, stop: bool = False) -> list[Effect]:
        """Keep the REGISTER bindings with trunks in step with the config (``stop``: remove them all)."""
        out: list[Effect] = []
        try:
            self.registrations.sync(() if stop else self.directory.all_trunks(), now, out)
        except Exception:
            log.exception("trunk registrations failed")
        return self._settle(out)

    def originate(self, command: object, now: float) -> list[Effect]:
        """The ``OriginateCall`` command: an outgoing call (a refusal is recorded, never raised)."""
        out: list[Effect] = []
        try:
            self.originator.originate(command, now, out)
        except Exception:
            log.exception("originating a call failed", call_id=getattr(command, "call_id", None))
        return self._settle(out)

    def transfer(
        self, call_id: str, target: str, now: float, mode: str | None = None, brief: str | None = None
    ) -> list[Effect]:
        """The ``TransferCall`` command: REFER the caller to ``target`` (blind, RFC 3515), or call the
        target and join the calls (``bridge``, ``attended``: see :mod:`edge.uas.bridge`)."""
        return self._settle(self.in_dialog.transfer(call_id, target, now, mode, brief))

    def briefed(self, leg_call_id: str, now: float) -> list[Effect]:
        """An attended transfer's brief has played to the person on ``leg_call_id``: join the calls."""
        out: list[Effect] = []
        self.bridges.briefed(leg_call_id, now, out)
        return self._settle(out)

    def media_closed(self, call_id: str, now: float) -> None:
        """The media session of an ended call has stopped: give its port back."""
        self.teardown.media_closed(call_id, now)
        self._settle([])

    # -- the wire ---------------------------------------------------------------------------------
    def receive(self, data: bytes, peer: Peer, now: float) -> list[Effect]:
        out: list[Effect] = []
        self._receive(data, peer, now, out)
        return self._settle(out)

    def _settle(self, out: list[Effect]) -> list[Effect]:
        """End of a step: the ladder records what is sent, then the calls it ended are forgotten."""
        try:
            self.ladder.sent(out)
        except Exception:  # the ladder is a record: it never stops what is sent
            log.exception("recording the SIP ladder failed")
        for call_id in self.facts.settle():
            self.ladder.unfollow(call_id)
        return out

    def _receive(self, data: bytes, peer: Peer, now: float, out: list[Effect]) -> None:
        if self.directory.trunk_for(peer.addr[0]) is None:
            refused = self.guard.check(peer.addr[0], data, peer.transport, now)
            if refused is not None:
                reason, method = refused
                if reason == "rate_limited":
                    m.RATE_LIMITED.labels(LIMITED_METHODS[method]).inc()
                else:
                    m.DROPPED.labels(reason).inc()
                return
        try:
            msg = parse_message(data, strict=not data.startswith(LAZY))
        except SipParseError as exc:
            reply = bad_request_for(exc) if exc.partial is None or exc.partial.method != "ACK" else None
            m.PARSE_ERRORS.labels("replied" if reply else "dropped").inc()
            log.debug("malformed SIP message", error=str(exc), peer=str(peer))
            if reply is not None:
                out.append(Send(bytes(reply), peer))
                m.RESPONSES_SENT.labels(method_label(exc.partial.method), m.status_class(reply.status)).inc()
            return
        try:
            self.ladder.received(msg, data, peer)
            if isinstance(msg, SipRequest):
                self._request(msg, data, peer, now, out)
            else:
                self._response(msg, peer, now, out)
        except SipParseError as exc:  # a lazily parsed header of an ACK or a response: never answered
            m.PARSE_ERRORS.labels("dropped").inc()
            log.debug("malformed SIP message", error=str(exc), peer=str(peer))
        except Exception:  # the transport must never see an exception
            log.exception("SIP message handling failed", peer=str(peer))

    def on_timer(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        for key in self.timers.pop_due(now):
            try:
                if isinstance(key, TransactionsDue):
                    for timed_out in self.txns.run_due(key.transport, now, out):
                        self.in_dialog.client_result(timed_out, None, now, out)
                elif isinstance(key, OutboundDue) and key.call_id.startswith(REGISTRATION):
                    self.registrations.on_timer(key.call_id, now, out)
                elif isinstance(key, OutboundDue):
                    self.originator.on_timer(key.call_id, now, out)
                elif isinstance(key, OkRetransmit):
                    self.teardown.ok_timer(key.call_id, now, out)
                else:
                    self._call_timer(key, now, out)
            except Exception:
                log.exception("SIP timer handling failed", kind=type(key).__name__)
        return self._settle(out)

    def _call_timer(self, key: CallDue, now: float, out: list[Effect]) -> None:
        call = self.table.get(key.call_id)
        if call is None:
            return
        if call.state is CallState.RINGING and call.ring_until is not None:
            if now >= call.ring_until:
                call.ring_until = None
                self.setup.answer(call, now, out)
            else:
                self.timers.schedule(key, call.ring_until)
        elif call.state is CallState.CHALLENGED and call.timer_at is not None:
            if now >= call.timer_at:
                self.teardown.reject(call, 401, "auth_challenge_unanswered", "auth", now, out, respond=False)
            else:
                self.timers.schedule(key, call.timer_at)
        elif call.state is CallState.ESTABLISHED and self.config.media_timeout_s > 0:
            self.teardown.check_media(call, now, out)

    def _response(self, resp: SipResponse, peer: Peer, now: float, out: list[Effect]) -> None:
        if self.registrations.claims(resp):
            self.registrations.response(resp, peer, now, out)
            return
        attempt = self.originator.claims(resp)
        if attempt is not None:
            if peer.addr[0] == attempt.uac.peer.addr[0]:  # only the host we called answers for it
                self.originator.response(attempt, resp, now, out)
            else:
                m.DROPPED.labels("foreign_source").inc()
            return
        self.in_dialog.response(resp, peer, now, out)

    def _request(self, req: SipRequest, raw: bytes, peer: Peer, now: float, out: list[Effect]) -> None:
        m.REQUESTS.labels(method_label(req.method)).inc()
        txns = self.txns
        too_much = excess(req, self.config.echo) if req.method != "ACK" else None
        if too_much is not None:
            m.DROPPED.labels(too_much).inc()
            if peer.transport == "udp":
                return  # answering would echo the bulk to an address nobody vouched for
        for_tu, rest = txns.receive_request(req, peer, now, out)
        if any(isinstance(a, Refused) for a in rest):
            m.DROPPED.labels("foreign_source").inc()
        if for_tu is None:  # a retransmission the transaction layer answered or absorbed
            return
        if too_much is not None:
            txns.respond(req, peer, 513, now, out)
            return
        if (
            peer.transport == "udp"
            and req.method == "INVITE"
            and self.directory.trunk_for(peer.addr[0]) is None
        ):
            txns.quiet(req, peer)  # no timer G towards an unproven source (see Proof above)
        if req.method != "ACK":
            m.TRANSACTIONS.labels("server").inc()
        try:
            self._dispatch(req, raw, peer, now, out)
        except SipParseError as exc:
            if req.method != "ACK":
                txns.respond(req, peer, 400, now, out, reason=f"Bad Request ({exc})"[:120])
            else:  # a lazily parsed ACK: dropped, as a strict parse would have
                m.PARSE_ERRORS.labels("dropped").inc()
        finally:
            m.TRANSACTIONS_ACTIVE.set(txns.active)

    def _dispatch(self, req: SipRequest, raw: bytes, peer: Peer, now: float, out: list[Effect]) -> None:
        method = req.method
        respond = self.txns.respond
        if method == "ACK":
            self.setup.ack(req, now, out)
        elif method == "CANCEL":
            self.setup.cancel(req, peer, now, out)
        elif req.to_addr.tag:
            call = self.table.for_dialog(req)
            if call is None or call.dialog is None:
                respond(req, peer, 481, now, out)
            else:
                self.in_dialog.request(call, req, peer, now, out)
        elif method == "INVITE":
            self.setup.invite(req, raw, peer, now, out)
        elif method == "OPTIONS":
            respond(req, peer, 200, now, out, headers=OPTIONS_HEADERS)
        elif method == "REGISTER":
            self.registration.register(req, peer, now, out)
        elif method in IN_DIALOG_ONLY or method == "REFER":
            respond(req, peer, 481, now, out)
        elif method in KNOWN_UNSUPPORTED:
            respond(req, peer, 405, now, out, headers=[("Allow", ALLOW)])
        else:
            respond(req, peer, 501, now, out, headers=[("Allow", ALLOW)])
