"""Outgoing calls in the SIP core: ``OriginateCall`` → INVITE → the same call as an inbound one.

The UAC of :mod:`edge.uac.call` places the call; this module gives it what an inbound call has — an
RTP port, a dialplan, the facts — and, once it is answered, hands it to the UAS core as an ordinary
established :class:`~edge.uas.call.Call`: BYE either way, media timeout, commands and the dialog's
greeting work as for an inbound call.  Facts, in the order an inbound call records them::

    CallInviteReceived(direction=outbound) · DialplanResolved · MediaPortAllocated
      ─answered─▶ CallAnswered · CallEstablished (the dialog greets) … CallEnded(disposition=answered)
      ─otherwise─▶ CallRejected(reason=busy|no_answer|failed|cancelled, stage=outbound) · CallEnded

The target's transport is the URI's (:func:`target_peer`): UDP, TCP (``;transport=tcp``) or TLS
(``sips:`` / ``;transport=tls``); the transport layer opens the TCP or TLS connection on the first send.
Refused before any INVITE (``failed``): a target that is not a SIP URI with an IP address (the
sans-IO core makes no DNS lookup), a transport other than those three, TLS without the edge's TLS
settings, an unknown or disabled trunk, the trunk's concurrency cap or rate limit, no free RTP port.
The CDR shows the disposition; the caller of the API sees it in the call.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import structlog

from edge import call_facts as cf
from edge import metrics as m
from edge.effects import Send
from edge.media.ports import PortPool, PortsExhausted
from edge.sdp import SdpNegotiationError, SdpParseError, SessionDescription, accept_answer, make_offer
from edge.sip.builders import new_call_id
from edge.sip.errors import SipParseError
from edge.sip.headers import SipUri
from edge.sip.message import SipResponse
from edge.uac.call import Answered, CallSpec, Ended, HungUp, OutboundCall, Output, Progress
from edge.uac.credentials import Credentials
from edge.uac.disposition import Disposition
from edge.uas.access import Trunk
from edge.uas.addresses import LocalAddresses
from edge.uas.call import Call, CallState, Effect, Peer
from edge.uas.call_facts import CallFacts
from edge.uas.call_table import CallTable
from edge.uas.config import UasConfig
from edge.uas.dialplan import Plan
from edge.uas.directory import Directory
from edge.uas.setup import CallSetup
from edge.uas.teardown import Teardown
from edge.uas.timers import CallDue, CoreTimers, OutboundDue
from schemas.envelope import DEFAULT_TENANT

log = structlog.get_logger(__name__)

LINGER_S = 32.0  # an answered attempt stays to re-ACK 2xx retransmissions (§13.2.2.4: 64*T1)
OUTBOUND_PLAN = Plan(dialplan_id="outbound", pattern="*", action="agent")


class OriginateRefused(ValueError):
    """The call cannot be placed; the message is the CallRejected reason's detail."""


@dataclass(slots=True)
class Attempt:
    """One outgoing call until its UAC has nothing left to do."""

    call: Call
    uac: OutboundCall
    handed_over: bool = False  # answered: the UAS core owns the dialog now
    linger_until: float | None = None


@dataclass(slots=True)
class TrunkBucket:
    """Token bucket of one trunk's outbound call rate (burst: one second's worth, at least one)."""

    tokens: float
    at: float

    def take(self, rate: float, now: float) -> bool:
        burst = max(rate, 1.0)
        self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


@dataclass(frozen=True, slots=True)
class LegOrder:
    """What :meth:`Originator.originate` reads of an ``OriginateCall``, for a call the edge places itself."""

    call_id: str
    to_uri: str
    to: str
    ring_timeout_s: float
    from_user: str
    trunk_id: str | None = None
    dialplan_id: str | None = None
    language: str | None = None
    tenant: str = DEFAULT_TENANT
    parent_call_id: str | None = None  # the caller's call this leg carries out a transfer for


_DEFAULT_PORT: Final = {"udp": 5060, "tcp": 5060, "tls": 5061}


def target_peer(uri: str, *, tls: bool = True) -> Peer:
    """Where the INVITE goes: the URI's IP literal and port, over the transport it names (RFC 3261
    §18.1.1, §26.2: ``sips:`` is TLS, else ``;transport=`` udp (the default), tcp or tls).  ``tls``:
    whether this edge has TLS settings to open a TLS hop with.  Raises OriginateRefused."""
    try:
        parsed = SipUri.parse(uri)
    except SipParseError as exc:
        raise OriginateRefused(f"not a SIP URI: {uri[:80]!r}") from exc
    host = parsed.param("maddr") or parsed.host
    try:
        ip = str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        raise OriginateRefused(f"not an IP address (no DNS in the SIP core): {host[:80]!r}") from None
    transport = "tls" if parsed.scheme == "sips" else parsed.transport.lower()
    if transport not in _DEFAULT_PORT:
        raise OriginateRefused(f"transport {transport[:16]!r} is not supported (udp, tcp, tls)")
    if transport == "tls" and not tls:
        raise OriginateRefused("a TLS target needs the edge's SIP TLS settings (certificate and key)")
    return Peer(transport, (ip, parsed.port or _DEFAULT_PORT[transport]))


@dataclass(slots=True)
class Originator:
    config: UasConfig
    table: CallTable
    facts: CallFacts
    local: LocalAddresses
    timers: CoreTimers
    pool: PortPool
    directory: Directory
    setup: CallSetup
    teardown: Teardown
    attempts: dict[str, Attempt] = field(default_factory=dict)  # by platform call id
    by_sip_call_id: dict[str, Attempt] = field(default_factory=dict)
    buckets: dict[str, TrunkBucket] = field(default_factory=dict)
    # told of every answered call once its media is open (the transfer bridge joins the legs)
    on_answered: Callable[[Call, float, list[Effect]], None] | None = None

    # -- entry points ------------------------------------------------------------------------------
    def originate_leg(
        self,
        call_id: str,
        target: str,
        ring_s: float,
        plan: Plan,
        from_user: str | None,
        now: float,
        out: list[Effect],
        tenant: str = DEFAULT_TENANT,
        parent_call_id: str | None = None,
    ) -> None:
        """A call the edge places for itself (a bridged transfer's leg to ``target``, for the caller's
        call ``parent_call_id``), under ``plan``, in ``tenant`` (the bridged call's)."""
        order = LegOrder(
            call_id,
            target,
            target,
            ring_s,
            from_user or "sentiric",
            tenant=tenant,
            parent_call_id=parent_call_id,
        )
        self.originate(order, now, out, plan=plan)

    def originate(self, command: Any, now: float, out: list[Effect], *, plan: Plan | None = None) -> None:
        """Carry out an ``OriginateCall``; a duplicate (same call id) is ignored."""
        call_id: str = command.call_id
        if call_id in self.attempts or self.table.get(call_id) is not None:
            return
        trunk: Trunk | None = None
        refused: str | None = None
        try:
            peer = target_peer(command.to_uri, tls=self.local.tls_port is not None)
            if command.trunk_id is not None:
                trunk = self._trunk(command.trunk_id, now)
        except OriginateRefused as exc:
            refused, peer = str(exc), Peer("udp", ("0.0.0.0", 0))
        # The command's tenant (set by the authenticated API; a leg: the bridged call's): the call runs
        # in it, its facts carry it, and only its dialplans may be named.
        tenant = getattr(command, "tenant", None) or DEFAULT_TENANT
        plan = plan or self._plan(command.dialplan_id, command.language, tenant)
        from_user = command.from_user or "sentiric"
        if from_user == "sentiric" and trunk is not None and trunk.outbound_from_user:
            from_user = trunk.outbound_from_user  # the schema's default: the trunk's caller id wins
        creds = None
        if trunk is not None and trunk.outbound_username and trunk.outbound_password is not None:
            creds = Credentials(trunk.outbound_username, trunk.outbound_password)
        spec = CallSpec(
            target=command.to_uri, from_uri=f"sip:{from_user}@{self.local.host}",
            via_host=self.local.host, via_port=self.local.port_for(peer.transport),
            contact=self.local.contact(peer.transport).strip("<>"), sdp=b"",
            ring_timeout=float(command.ring_timeout_s), credentials=creds, transport=peer.transport.upper(),
        )  # fmt: skip
        reliable = peer.transport != "udp"  # no INVITE retransmissions over TCP/TLS (RFC 3261 §17.1.1.2)
        uac = OutboundCall(
            spec, peer, timers=self.config.timers, reliable=reliable, call_id=new_call_id(self.local.host)
        )
        call = Call(call_id, uac.invite, peer, uac.from_tag, now)
        call.direction, call.plan, call.trunk, call.proven = "outbound", plan, trunk, True
        call.tenant = tenant
        self.facts.set_tenant(call_id, tenant)
        call.parent_call_id = getattr(command, "parent_call_id", None)
        self.table.add(call, None)
        m.CALLS_ACTIVE.inc()
        to_user = getattr(_uri_or_none(command.to_uri), "user", None) or command.to
        self.facts.record(
            cf.call_invite_received(
                call_id, sip_call_id=uac.call_id, from_uri=spec.from_uri, to_uri=command.to_uri,
                caller=from_user, callee=to_user, remote_addr=str(peer), transport=peer.transport,
                direction="outbound", parent_call_id=call.parent_call_id,
            )
        )  # fmt: skip
        self.facts.record(
            cf.dialplan_resolved(
                call_id,
                dialplan_id=plan.dialplan_id,
                action=plan.action,
                language=plan.language,
                knowledge=tuple(getattr(command, "knowledge", ()) or ()),  # the request's entries only
            )
        )
        if refused is None:
            try:
                call.port = self.pool.allocate(now)
            except PortsExhausted:
                refused = "no free RTP port"
        if refused is not None:
            log.info("outbound call refused", call_id=call_id, reason=refused)
            self._ended(call, Ended(Disposition.FAILED, None, refused), now, out)
            return
        assert call.port is not None
        self.facts.record(
            cf.media_port_allocated(call_id, rtp_port=call.port, local_address=self.config.rtp_host)
        )
        offer = make_offer(local_address=self.config.rtp_host, local_port=call.port)
        call.local_sdp = offer
        uac = OutboundCall(
            CallSpec(**{**_fields(spec), "sdp": str(offer).encode()}), peer,
            timers=self.config.timers, reliable=reliable, call_id=uac.call_id, from_tag=uac.from_tag,
        )  # fmt: skip
        call.invite = uac.invite
        attempt = Attempt(call, uac)
        self.attempts[call_id] = attempt
        self.by_sip_call_id[uac.call_id] = attempt
        self._apply(attempt, uac.start(now), now, out)

    def claims(self, resp: SipResponse) -> Attempt | None:
        """The attempt a response belongs to: the INVITE's and CANCEL's responses always, others
        (a BYE the UAC sent itself) until the call is handed over to the UAS core."""
        attempt = self.by_sip_call_id.get(resp.call_id)
        if attempt is None:
            return None
        if resp.cseq.method in ("INVITE", "CANCEL") or not attempt.handed_over:
            return attempt
        return None

    def response(self, attempt: Attempt, resp: SipResponse, now: float, out: list[Effect]) -> None:
        self._apply(attempt, attempt.uac.receive_response(resp, now), now, out)

    def hangup(self, call_id: str, reason: str, now: float, out: list[Effect]) -> bool:
        """Hang up a call still ringing (CANCEL); False when the UAS core owns it (answered)."""
        attempt = self.attempts.get(call_id)
        if attempt is None or attempt.handed_over:
            return False
        self._apply(attempt, attempt.uac.hangup(now, reason), now, out)
        return True

    def on_timer(self, call_id: str, now: float, out: list[Effect]) -> None:
        attempt = self.attempts.get(call_id)
        if attempt is None:
            return
        self._apply(attempt, attempt.uac.on_timer(now), now, out)

    # -- internals ---------------------------------------------------------------------------------
    def _trunk(self, trunk_id: str, now: float) -> Trunk:
        trunk = self.directory.trunk(trunk_id)
        if trunk is None or not trunk.enabled:
            raise OriginateRefused(f"no such trunk: {trunk_id!r}")
        if trunk.outbound_max_calls > 0:
            live = sum(  # answered calls too: the table holds every call until it is over
                1
                for c in self.table.calls.values()
                if c.direction == "outbound"
                and c.trunk is not None
                and c.trunk.trunk_id == trunk_id
                and c.live
            )
            if live >= trunk.outbound_max_calls:
                m.OUTBOUND_REFUSED.labels("trunk_busy").inc()
                raise OriginateRefused(f"trunk {trunk_id} at its cap of {trunk.outbound_max_calls} calls")
        rate = trunk.outbound_calls_per_second
        if rate > 0:
            bucket = self.buckets.setdefault(trunk_id, TrunkBucket(max(rate, 1.0), now))
            if not bucket.take(rate, now):
                m.OUTBOUND_REFUSED.labels("rate_limited").inc()
                raise OriginateRefused(f"trunk {trunk_id} over {rate:g} calls per second")
        return trunk

    def _plan(self, dialplan_id: str | None, language: str | None, tenant: str) -> Plan:
        plan = OUTBOUND_PLAN
        if dialplan_id is not None:
            own = (p for p in self.directory.dialplans() if p.tenant == tenant)
            plan = next((p for p in own if p.dialplan_id == dialplan_id), plan)
        if plan.action != "agent":  # an outbound call always runs the agent, whatever the plan routes
            plan = Plan(**{**_fields(plan), "action": "agent"})
        if language:
            plan = Plan(**{**_fields(plan), "language": language})
        return plan

    def _apply(self, attempt: Attempt, outputs: list[Output], now: float, out: list[Effect]) -> None:
        call = attempt.call
        for o in outputs:
            if isinstance(o, Send):
                out.append(o)
            elif isinstance(o, Progress):
                if o.early_media:
                    call.early_media = True
                if call.state is CallState.NEW:
                    call.fire("ring")
            elif isinstance(o, Answered):
                self._answered(attempt, o, now, out)
            elif isinstance(o, Ended):
                if call.live:
                    self._ended(call, o, now, out)
            elif isinstance(o, HungUp):  # never: the UAS core owns an answered call's BYEs
                log.warning("UAC reported a hang-up after hand-over", call_id=call.call_id)
        self._reschedule(attempt, now)

    def _answered(self, attempt: Attempt, ans: Answered, now: float, out: list[Effect]) -> None:
        """2xx: the call becomes an established UAS-core call (our ACK is sent: no wait for one)."""
        call = attempt.call
        assert call.local_sdp is not None
        attempt.handed_over = True
        attempt.linger_until = now + LINGER_S
        call.dialog = ans.dialog
        call.answered_at, call.final_status, call.disposition = now, 200, Disposition.ANSWERED.value
        call.fire("answer")
        call.fire("ack")
        call.established_at = now
        self.table.answered(call)
        m.OUTBOUND_CALLS.labels(Disposition.ANSWERED.value).inc()
        try:
            neg = accept_answer(call.local_sdp, SessionDescription.parse(ans.sdp))
        except (SdpParseError, SdpNegotiationError) as exc:
            log.info("outbound call answered with unusable SDP", call_id=call.call_id, error=str(exc))
            call.disposition = Disposition.FAILED.value
            self.teardown.send_bye(call, "sdp_not_acceptable", "system", now, out)
            return
        call.negotiated = neg
        self.facts.record(
            cf.call_answered(
                call.call_id, codec=neg.codec.encoding.upper(), payload_type=neg.codec.payload_type,
                ptime_ms=neg.ptime, srtp=bool(neg.local_crypto),
                remote_rtp_addr=f"{neg.remote_address}:{neg.remote_port}", sdp_answer=str(call.local_sdp),
            )
        )  # fmt: skip
        self.setup._open_media(call, neg, out)
        self.facts.record(cf.call_established(call.call_id, ack_delay_ms=0.0))
        if self.config.media_timeout_s > 0:
            call.timer_at = now + self.config.media_timeout_s
            self.timers.schedule(CallDue(call.call_id), call.timer_at)
        if self.on_answered is not None:
            self.on_answered(call, now, out)

    def _ended(self, call: Call, ended: Ended, now: float, out: list[Effect]) -> None:
        status = ended.status or (408 if ended.disposition is Disposition.NO_ANSWER else 500)
        call.final_status, call.disposition = status, ended.disposition.value
        m.OUTBOUND_CALLS.labels(ended.disposition.value).inc()
        self.facts.record(
            cf.call_rejected(
                call.call_id, sip_status=status, reason=ended.disposition.value, stage="outbound"
            )
        )
        call.fire("end")
        by = (
            "callee"
            if ended.disposition in (Disposition.BUSY, Disposition.FAILED) and ended.status
            else "system"
        )
        if ended.disposition is Disposition.CANCELLED:
            by = "agent"
        self.teardown.finish(call, ended.disposition.value, by, status, now, out)

    def _reschedule(self, attempt: Attempt, now: float) -> None:
        """Re-arm the attempt's timer, or let it go once its UAC has nothing left to do."""
        key = OutboundDue(attempt.call.call_id)
        due = [attempt.uac.next_deadline]
        if attempt.handed_over:
            linger = attempt.linger_until
            due.append(linger if linger is not None and now < linger else None)
            done = True
        else:
            done = attempt.uac.phase == "ended"
        deadlines = [d for d in due if d is not None]
        if done and not deadlines:
            self.attempts.pop(attempt.call.call_id, None)
            self.by_sip_call_id.pop(attempt.uac.call_id, None)
            self.timers.cancel(key)
            return
        self.timers.schedule(key, min(deadlines) if deadlines else None)


def _uri_or_none(text: str) -> SipUri | None:
    try:
        return SipUri.parse(text)
    except SipParseError:
        return None


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}
