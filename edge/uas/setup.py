"""Call setup (RFC 3261 §13.3, RFC 3264): INVITE to 200 OK to ACK, and CANCEL (§9.2).

INVITE ─▶ tenant (``edge.uas.tenants``) ─▶ CallInviteReceived ─▶ admission (503 + Retry-After; per-source cap)
─▶ [disabled tenant: 403] ─▶ dialplan ─▶ access (403 trunks only / digest 401) ─▶ [dialplan reject] ─▶ SDP dry
run (488/415/400, before any port is taken) ─▶ dialog worker check for agent calls (503 + Retry-After, or the
busy prompt per the dialplan's ``busy_action``) ─▶ port (503) ─▶ [180] ─▶ 200 + SDP answer (or our offer for a
late-offer INVITE) ─▶ ACK. A call answered only to hear the busy prompt records ``CallDegraded`` at its
answer; the edge's fallback player (``edge.uas.fallback``) plays the prompt and hangs up.
The access check comes before a dialplan's own refusal, so an unauthenticated scanner gets the same
401 (or 403) for every number and cannot tell the numbers that exist from those that do not.  Every
one of these answers at once, so no ``100 Trying`` precedes them (§17.2.1 needs it only for a TU
slower than 200 ms).

A retransmitted INVITE after our 2xx gets the 2xx again (RFC 6026) — only from the transport address
the INVITE came from: a replay from anywhere else is dropped and counted.  The ACK proves the caller
(``ConfirmMedia``); a 2xx never ACKed ends the call with a BYE only if the caller had proven itself
otherwise (trunk, digest, TCP): an unproven UDP source may be a spoofed victim, so it is not sent one.
SRTP (RFC 4568 SDES) is answered with a fresh key of our own per the ``srtp_policy``.
"""

from __future__ import annotations

import secrets

import structlog

from edge import call_facts as cf
from edge import metrics as m
from edge.effects import Send
from edge.media.ports import PortPool, PortsExhausted
from edge.media.rtp.source_policy import MediaTrust
from edge.media.srtp import CryptoAttribute, SrtpError
from edge.media_port import MediaOptions
from edge.sdp import (
    Negotiated,
    SdpNegotiationError,
    SdpParseError,
    SessionDescription,
    accept_answer,
    make_offer,
)
from edge.sip.dialog import Dialog
from edge.sip.message import SipRequest
from edge.uas.access import decide, effective_access
from edge.uas.addresses import LocalAddresses, host_of, user_of
from edge.uas.admission import Admission
from edge.uas.call import Call, CallState, CloseMedia, ConfirmMedia, Effect, OpenMedia, Peer, UpdateMedia
from edge.uas.call_facts import CallFacts
from edge.uas.call_table import CallTable
from edge.uas.callerid import caller_fields
from edge.uas.config import UasConfig
from edge.uas.dialplan import within_hours
from edge.uas.directory import DigestGate, Directory, count_auth_failure
from edge.uas.in_dialog import InDialog
from edge.uas.ladder import Ladder
from edge.uas.ratelimit import SourceGuard
from edge.uas.sdp_policy import SdpPolicy, check_same_keys, media_addr
from edge.uas.teardown import Teardown
from edge.uas.tenants import route
from edge.uas.timers import CallDue, CoreTimers
from edge.uas.transactions import Transactions

log = structlog.get_logger(__name__)


class CallSetup:
    """The INVITE path from the first INVITE to the ACK, and CANCEL."""

    def __init__(
        self,
        config: UasConfig,
        *,
        table: CallTable,
        txns: Transactions,
        facts: CallFacts,
        sdp: SdpPolicy,
        local: LocalAddresses,
        timers: CoreTimers,
        admission: Admission,
        pool: PortPool,
        directory: Directory,
        gate: DigestGate,
        guard: SourceGuard,
        teardown: Teardown,
        in_dialog: InDialog,
        ladder: Ladder | None = None,
    ) -> None:
        self.config = config
        self.table = table
        self.txns = txns
        self.facts = facts
        self.sdp = sdp
        self.local = local
        self.timers = timers
        self.admission = admission
        self.pool = pool
        self.directory = directory
        self.gate = gate
        self.guard = guard
        self.teardown = teardown
        self.in_dialog = in_dialog
        self.ladder = ladder

    def invite(self, req: SipRequest, raw: bytes, peer: Peer, now: float, out: list[Effect]) -> None:
        """An INVITE outside any dialog; ``raw`` is its octets as received (CallInviteReceived)."""
        call = self.table.for_invite(req)
        if call is not None and call.state is not CallState.CHALLENGED:
            # RFC 6026: a retransmitted INVITE after our 2xx ended its transaction.
            self.txns.forget(req, peer)
            if peer != call.peer:  # replayed from elsewhere: the stored 2xx goes to its source only
                m.DROPPED.labels("foreign_source").inc()
                return
            if call.ok is not None and req.cseq.seq == call.ok_cseq:
                out.append(Send(call.ok.data, peer))
            elif req.cseq.seq != call.invite.cseq.seq:
                self.txns.respond(req, peer, 482, now, out)  # same call, another request: a loop
            return
        if call is None:
            call = Call(self.admission.call_id(), req, peer, secrets.token_hex(6), now)
            call.trunk = self.directory.trunk_for(peer.addr[0])
            call.proven = call.proven or call.trunk is not None
            self.table.add(call, peer.addr[0] if call.trunk is None else None)
            m.INVITES_RECEIVED.inc()
            m.CALLS_ACTIVE.inc()
            try:
                if not self.admit_and_route(call, req, raw, now, out):
                    return
            except Exception:
                log.exception("call setup failed", call_id=call.call_id)
                self._setup_failed(call, now, out)
                return
        else:
            if (peer.transport, peer.addr[0]) != (call.peer.transport, call.peer.addr[0]):
                self.txns.forget(req, peer)
                m.DROPPED.labels("foreign_source").inc()  # the challenge went elsewhere
                return
            call.invite, call.peer = req, peer
            call.fire("credentials")
        try:
            self.setup(call, now, out)
        except Exception:
            log.exception("call setup failed", call_id=call.call_id)
            self._setup_failed(call, now, out)
        self.txns.trying_if_silent(req, peer, now, out)

    def _setup_failed(self, call: Call, now: float, out: list[Effect]) -> None:
        """A setup that raised: 500 if the INVITE is still unanswered, and the call leaves every table.

        A call left behind would hold its per-source slot, its port and its ``calls`` entry for ever
        (one per hostile datagram), so when the rejection itself raises the call is dropped by hand.
        """
        if call.state not in (CallState.NEW, CallState.CHALLENGED, CallState.RINGING):
            return  # answered (or over): an answered call ends by its own rules (ACK timeout, BYE)
        try:
            self.teardown.reject(call, 500, "internal_error", "internal", now, out)
            return
        except Exception:
            log.exception("call setup cleanup failed", call_id=call.call_id)
        if self.table.get(call.call_id) is not call:
            return
        if not call.ended:  # the failed rejection may have got this far
            call.state = CallState.ENDED
            self.table.live -= 1
            m.CALLS_ACTIVE.dec()
            # unanswered: its server transaction would absorb retransmissions for ever (no 100 either)
            self.txns.forget(call.invite, call.peer)
        self.timers.cancel(CallDue(call.call_id))
        self.table.release_source(call)
        if call.media_open:
            out.append(CloseMedia(call.call_id))  # media_closed() gives the port back and forgets it
        else:
            self.teardown.release_port(call, now)

    def admit_and_route(self, call: Call, req: SipRequest, raw: bytes, now: float, out: list[Effect]) -> bool:
        """CallInviteReceived, admission (503) and the dialplan; False when the call was refused."""
        ruri = req.request_uri
        # The call's tenant first (edge.uas.tenants): its every fact carries it, this one too.
        routed = route(self.directory.dialplans(), self.directory.tenants(), host_of(ruri), user_of(ruri))
        call.tenant = routed.tenant
        self.facts.set_tenant(call.call_id, routed.tenant)
        self.facts.record(
            cf.call_invite_received(
                call.call_id,
                sip_call_id=req.call_id,
                from_uri=str(req.from_addr.uri),
                to_uri=str(ruri),
                caller=user_of(req.from_addr.uri),
                callee=user_of(ruri),
                remote_addr=str(call.peer),
                transport=call.peer.transport,
                sdp_offer=req.body.decode("utf-8", "replace") if req.body else None,
                user_agent=req.header("user-agent"),
                raw_invite=raw or None,  # the recorder scrubs its SRTP keys and bounds it
            )
        )
        if self.ladder is not None:  # the ladder's first rung: the call was not followed before
            self.ladder.received_invite(call, raw)
        refused = self.admission.refuse(active_calls=self.table.live - 1, ports_free=self.pool.available(now))
        cap = self.config.max_calls_per_source
        if (
            not refused
            and call.counted_ip is not None
            and cap
            and self.table.per_source[call.counted_ip] > cap
        ):
            refused = "too_many_calls_from_source"
        if refused:
            retry = str(self.admission.limits.retry_after_s)
            self.teardown.reject(call, 503, refused, "overload", now, out, headers=[("Retry-After", retry)])
            return False
        if not routed.enabled:
            self.teardown.reject(call, 403, "tenant_disabled", "dialplan", now, out)
            return False
        plan = within_hours(routed.plan, routed.plans, self.config.wall_clock())
        call.plan = plan
        if plan.action == "reject":
            return True  # refused in setup, after the access check: a number's fate is no oracle
        # Who is calling, looked up before the greeting (edge.uas.callerid): a claim, never an authorization.
        caller_id = user_of(req.from_addr.uri)
        self.facts.record(
            cf.dialplan_resolved(
                call.call_id,
                dialplan_id=plan.dialplan_id,
                action=plan.action,
                target=plan.target,
                prompt_uri=plan.prompt_uri,
                language=plan.language,
                **caller_fields(
                    caller_id, self.directory.caller(caller_id, call.tenant), req.from_addr.display_name
                ),
            )
        )
        return True

    def setup(self, call: Call, now: float, out: list[Effect]) -> None:
        """Access, the dialplan's refusal, the SDP dry run, the worker check and the port."""
        req, peer = call.invite, call.peer
        assert call.plan is not None
        plan = call.plan
        access = effective_access(plan.access, plan.require_auth, self.config.default_access)
        decision = decide(access, trunk=call.trunk, require_auth=self.config.require_auth)
        if decision == "forbid":
            self.teardown.reject(call, 403, "not_a_trunk", "auth", now, out)
            return
        if decision == "challenge":
            outcome = self.gate.check(req, now, call.tenant)
            if not outcome.ok:
                if outcome.reason:
                    m.AUTH_FAILURES.labels(outcome.reason).inc()
                if outcome.challenge:
                    call.fire("challenge")
                    call.timer_at = now + self.config.challenge_ttl_s
                    self.timers.schedule(CallDue(call.call_id), call.timer_at)
                    self.txns.respond(
                        req, peer, 401, now, out, to_tag=call.local_tag, headers=list(outcome.challenge)
                    )
                else:
                    count_auth_failure(self.guard, peer.addr[0], now)
                    self.teardown.reject(call, 403, f"auth_{outcome.reason}", "auth", now, out)
                return
            call.proven = True  # it answered our nonce: it receives what we send
        if plan.action == "reject":
            self.teardown.reject(call, plan.reject_status, "dialplan_reject", "dialplan", now, out)
            return
        if len(req.contacts) != 1:
            self.teardown.reject(call, 400, "bad_contact", "internal", now, out)
            return
        if req.body:
            if req.content_type != "application/sdp":
                self.teardown.reject(
                    call, 415, "unsupported_body", "sdp", now, out, headers=[("Accept", "application/sdp")]
                )
                return
            try:
                offer = SessionDescription.parse(req.body)
                self.sdp.check_family(self.sdp.answer(offer, 9, None))  # dry run: before any port
            except SdpParseError:
                self.teardown.reject(call, 400, "malformed_sdp", "sdp", now, out)
                return
            except SdpNegotiationError as exc:
                self.teardown.reject(call, exc.status, "sdp_not_acceptable", "sdp", now, out)
                return
        busy = self.admission.worker_refusal(call.call_id) if plan.action == "agent" else None
        if busy is not None and plan.busy_action != "busy_prompt":
            retry = str(self.admission.limits.retry_after_s)
            self.teardown.reject(call, 503, busy, "overload", now, out, headers=[("Retry-After", retry)])
            return
        call.busy = busy  # answered, but only to hear the edge's busy prompt
        try:
            call.port = self.pool.allocate(now)
        except PortsExhausted:
            retry = str(self.admission.limits.retry_after_s)
            self.teardown.reject(
                call, 503, "ports_exhausted", "media", now, out, headers=[("Retry-After", retry)]
            )
            return
        self.facts.record(
            cf.media_port_allocated(call.call_id, rtp_port=call.port, local_address=self.config.rtp_host)
        )
        ring_s = plan.ring_ms / 1000 if plan.ring_ms is not None else self.config.ring_s
        if ring_s > 0:
            call.fire("ring")
            call.ring_until = now + ring_s
            self.timers.schedule(CallDue(call.call_id), call.ring_until)
            self.txns.respond(req, peer, 180, now, out, to_tag=call.local_tag)
        else:
            self.answer(call, now, out)

    def answer(self, call: Call, now: float, out: list[Effect]) -> None:
        """200 OK with our SDP answer (or our offer, for an INVITE without one): CallAnswered."""
        req, peer = call.invite, call.peer
        assert call.port is not None
        neg: Negotiated | None = None
        if req.body:
            neg = self.sdp.answer(SessionDescription.parse(req.body), call.port, None)
            call.negotiated, sdp = neg, neg.sdp
        else:  # late offer: we offer in the 200, the answer comes in the ACK
            call.late_offer = True
            crypto = self.sdp.offer_crypto(None)
            sdp = make_offer(local_address=self.config.rtp_host, local_port=call.port, crypto=crypto)
        call.local_sdp = sdp
        contact = self.local.contact(peer.transport, req)
        call.dialog = Dialog.from_request(req, call.local_tag, contact)
        if self.txns.ok_with_sdp(call, req, peer, contact, now, out) is None:
            # the INVITE transaction is gone (e.g. CANCEL crossed): nothing to answer
            self.teardown.reject(call, 487, "request_terminated", "internal", now, out, respond=False)
            return
        call.fire("answer")
        call.answered_at, call.final_status = now, 200
        self.table.answered(call)
        m.INVITES_ACCEPTED.inc()
        m.SETUP_SECONDS.observe(now - call.invited_at)
        self.facts.record(
            cf.call_answered(
                call.call_id,
                codec=neg.codec.encoding.upper() if neg else "PCMU",
                payload_type=neg.codec.payload_type if neg else 0,
                ptime_ms=neg.ptime if neg else 20,
                srtp=bool(neg.local_crypto) if neg else bool(sdp.media and sdp.media[0].is_srtp),
                remote_rtp_addr=f"{neg.remote_address}:{neg.remote_port}" if neg else None,
                sdp_answer=str(sdp),
            )
        )
        if call.busy is not None:
            self.facts.record(
                cf.call_degraded(call.call_id, reason=call.busy, action="busy_prompt", waited_ms=0.0)
            )
        if neg is not None:
            self._open_media(call, neg, out)

    def _open_media(self, call: Call, neg: Negotiated, out: list[Effect]) -> None:
        assert call.port is not None
        call.media_open = True
        call.on_hold = neg.on_hold
        trunk = call.trunk
        trust = MediaTrust(
            signal_ip=call.peer.addr[0],
            proven=call.proven,
            trunk=trunk.sources if trunk is not None else (),
            media_anywhere=trunk.media_anywhere if trunk is not None else False,
        )
        out.append(
            OpenMedia(
                call.call_id,
                MediaOptions(
                    local_port=call.port,
                    remote_addr=media_addr(neg),
                    codec=neg.codec.encoding.upper(),
                    payload_type=neg.codec.payload_type,
                    dtmf_payload_type=neg.telephone_event.payload_type if neg.telephone_event else None,
                    ptime_ms=neg.ptime,
                    crypto_local=str(neg.local_crypto) if neg.local_crypto else None,
                    crypto_remote=str(neg.remote_crypto) if neg.remote_crypto else None,
                    remote_fmtp=neg.binding.remote_fmtp if neg.binding else None,
                    trust=trust,
                ),
            )
        )

    def ack(self, req: SipRequest, now: float, out: list[Effect]) -> None:
        """The ACK of our 2xx: proof of the caller, CallEstablished, the late offer's answer."""
        call = self.table.for_dialog(req)
        if call is None or call.ok is None or req.cseq.seq != call.ok_cseq:
            return  # stray or retransmitted ACK
        call.ok.ack_received()
        call.ok = None
        first = call.state is CallState.ANSWERED
        if not call.proven:  # the ACK carries our To-tag: only the real caller saw it
            call.proven = True
            if call.media_open:
                out.append(ConfirmMedia(call.call_id))
        if first:
            call.fire("ack")
            call.established_at = now
            assert call.answered_at is not None
            self.facts.record(
                cf.call_established(call.call_id, ack_delay_ms=round((now - call.answered_at) * 1000, 3))
            )
        if call.late_offer and call.local_sdp is not None:  # the answer to our offer is in the ACK
            call.late_offer = False
            try:
                neg = accept_answer(call.local_sdp, SessionDescription.parse(req.body))
                self.sdp.check_family(neg)
                if call.negotiated is not None:
                    check_same_keys(call.negotiated, neg)
                if neg.remote_crypto is not None:
                    CryptoAttribute.parse(str(neg.remote_crypto))
            except (SdpParseError, SdpNegotiationError, SrtpError):
                self.teardown.send_bye(call, "error", "system", now, out)
                return
            call.negotiated = neg
            if call.media_open:
                out.append(UpdateMedia(call.call_id, media_addr(neg), neg.direction))
            else:
                self._open_media(call, neg, out)
            self.in_dialog.media_updated(call, neg)
        if not first:
            return
        if call.hangup_pending:
            self.teardown.send_bye(call, call.hangup_pending, "agent", now, out)
            return
        if self.config.media_timeout_s > 0:
            call.timer_at = now + self.config.media_timeout_s
            self.timers.schedule(CallDue(call.call_id), call.timer_at)
        target = call.transfer_target or (
            call.plan.target if call.plan and call.plan.action == "transfer" else None
        )
        if target:
            out.extend(self.in_dialog.transfer(call.call_id, target, now))

    def cancel(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        """CANCEL (§9.2): 200, and 487 to the INVITE while it is still unanswered."""
        invite_txn = self.txns.invite_for_cancel(req, peer)
        if invite_txn is None or invite_txn.peer != peer:  # a CANCEL comes from the INVITE's hop
            self.txns.respond(req, peer, 481, now, out)
            return
        self.txns.respond(req, peer, 200, now, out)
        call = self.table.for_invite(req)
        if call is None or call.state not in (CallState.NEW, CallState.RINGING):
            return  # already answered or refused: the CANCEL has no effect (§9.2)
        self.txns.respond(call.invite, call.peer, 487, now, out, to_tag=call.local_tag)
        call.final_status = 487
        self.facts.record(cf.call_cancelled(call.call_id))
        call.fire("end")
        self.teardown.finish(call, "cancelled", "caller", 487, now, out)
