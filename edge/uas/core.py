"""The edge's SIP user-agent server core (RFC 3261 §8.2, §12-§17), sans-IO.

``receive(data, peer, now)`` takes one datagram (or one TCP frame) and returns effects:
:class:`~edge.sip.transaction.Send` (bytes for a peer) and the media effects of
:mod:`edge.uas.call`; ``on_timer(now)`` runs what is due and ``next_deadline`` says when to call it
again.  ``hangup`` / ``transfer`` apply the dialog's commands; ``media_closed`` is the driver's
report that a media session has stopped, after which the RTP port goes back to the pool.

Call setup is event-sourced and never waits on the log (DESIGN.md, the seed's sequence)::

    INVITE ─▶ 100 Trying ─▶ CallInviteReceived ─▶ admission ─▶ dialplan (DialplanResolved |
    CallRejected) ─▶ [digest 401 ↺] ─▶ SDP check (488) ─▶ port (MediaPortAllocated | 503)
    ─▶ [180, ring time] ─▶ 200 OK + SDP (CallAnswered) ─▶ ACK (CallEstablished)

Every refusal answers a final status, records ``CallRejected`` then ``CallEnded`` and gives the
port back (``MediaPortReleased`` last), so no half-set-up call remains.  Everything that fails
inside the core is caught here: nothing raises out to the transport.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from edge import metrics as m
from edge.facts import FactSink
from edge.media.ports import PortPool, PortsExhausted
from edge.sdp import (
    SRTP_SUITES,
    Negotiated,
    SdpNegotiationError,
    SdpParseError,
    SessionDescription,
    accept_answer,
    answer,
    make_offer,
)
from edge.sip.builders import bad_request_for, make_response
from edge.sip.dialog import Dialog, sipfrag_status
from edge.sip.digest import DigestAuthenticator
from edge.sip.errors import SipParseError
from edge.sip.message import SipRequest, SipResponse, parse_message
from edge.sip.registrar import Registrar
from edge.sip.transaction import (
    AckTimeout,
    InviteOkRetransmitter,
    ResponseReceived,
    Send,
    SipTransactionError,
    Terminated,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    server_key,
)
from edge.uas.admission import Admission, AdmissionLimits
from edge.uas.call import Call, CallState, CloseMedia, OpenMedia, Peer, UpdateMedia
from edge.uas.dialplan import resolve
from edge.uas.directory import DigestGate, Directory
from edge.uas.info import parse_dtmf_info
from edge.uas.timers import TimerHeap
from schemas import models as f

log = structlog.get_logger(__name__)

Effect = Send | OpenMedia | UpdateMedia | CloseMedia
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER, REGISTER"
KNOWN_UNSUPPORTED = frozenset({"SUBSCRIBE", "PUBLISH", "MESSAGE", "UPDATE", "PRACK"})
IN_DIALOG_ONLY = frozenset({"BYE", "INFO", "NOTIFY"})


@dataclass(frozen=True, slots=True)
class UasConfig:
    host: str = "127.0.0.1"  # our SIP address (Via, Contact)
    port: int = 5060
    rtp_host: str = "127.0.0.1"  # c= address of our SDP
    realm: str = "sentiric"
    auth_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    require_auth: bool = False  # challenge every INVITE, whatever the dialplan says
    register_auth: bool = True
    auth_algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # one challenge each, preferred first
    ring_s: float = 0.0  # send 180 and wait this long before the 200 (0: answer at once)
    media_timeout_s: float = 30.0  # no RTP for this long ends the call (0: never)
    challenge_ttl_s: float = 32.0  # a 401 not answered by then ends the call attempt
    srtp_policy: str = "optional"  # off | optional | required
    timers: TimerConfig = field(default_factory=TimerConfig)
    server: str = "sentiric-edge"


def _srtp_key(suite: str) -> str | None:
    return f"inline:{base64.b64encode(secrets.token_bytes(30)).decode()}" if suite in SRTP_SUITES else None


def _user(uri: Any) -> str:
    return getattr(uri, "user", None) or ""


class UasCore:
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
        self.facts = facts
        self.pool = pool
        self.directory = directory
        self.admission = admission or Admission(AdmissionLimits())
        self.media_activity = media_activity
        self.registrar = registrar or Registrar()
        self.gate = DigestGate(
            DigestAuthenticator(config.realm, config.auth_secret, algorithms=config.auth_algorithms),
            directory,
        )
        self.layers = {
            "udp": TransactionLayer(config.timers, reliable=False),
            "tcp": TransactionLayer(config.timers, reliable=True),
        }
        self.timers = TimerHeap()
        self.calls: dict[str, Call] = {}  # platform call_id -> call
        self._by_invite: dict[tuple[str, str], Call] = {}  # (SIP Call-ID, From tag) -> call
        self._by_dialog: dict[tuple[str, str, str], Call] = {}  # (Call-ID, our tag, their tag)
        self._client: dict[tuple[str, ...], tuple[str, str]] = {}  # client txn -> (call_id, method)

    # ---------------------------------------------------------------------------------------------
    # entry points
    # ---------------------------------------------------------------------------------------------
    @property
    def next_deadline(self) -> float | None:
        return self.timers.next_deadline

    @property
    def active_calls(self) -> int:
        return sum(1 for c in self.calls.values() if c.live)

    def receive(self, data: bytes, peer: Peer, now: float) -> list[Effect]:
        out: list[Effect] = []
        try:
            msg = parse_message(data)
        except SipParseError as exc:
            reply = bad_request_for(exc) if exc.partial is None or exc.partial.method != "ACK" else None
            m.PARSE_ERRORS.labels("replied" if reply else "dropped").inc()
            log.debug("malformed SIP message", error=str(exc), peer=str(peer))
            if reply is not None:
                out.append(Send(bytes(reply), peer))
                m.RESPONSES_SENT.labels(exc.partial.method, m.status_class(reply.status)).inc()
            return out
        try:
            if isinstance(msg, SipRequest):
                self._request(msg, peer, now, out)
            else:
                self._response(msg, peer, now, out)
        except Exception:  # the transport must never see an exception
            log.exception("SIP message handling failed", peer=str(peer))
        return out

    def on_timer(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        for kind, key in self.timers.pop_due(now):
            try:
                if kind == "st" or kind == "ct":
                    self._txn_timer(kind, key, now, out)  # type: ignore[arg-type]
                elif kind == "ok":
                    self._ok_timer(key, now, out)  # type: ignore[arg-type]
                elif kind == "call":
                    self._call_timer(key, now, out)  # type: ignore[arg-type]
            except Exception:
                log.exception("SIP timer handling failed", kind=kind)
        return out

    def hangup(self, call_id: str, reason: str, now: float) -> list[Effect]:
        """The dialog's ``Hangup`` command: BYE an answered call, 480 one still ringing."""
        out: list[Effect] = []
        call = self.calls.get(call_id)
        if call is None or not call.live:
            return out
        if call.state in (CallState.NEW, CallState.RINGING, CallState.CHALLENGED):
            self._reject(call, 480, reason, "internal", now, out, hangup_by="agent")
        else:
            self._send_bye(call, reason, "agent", now, out)
        return out

    def transfer(self, call_id: str, target: str, now: float) -> list[Effect]:
        """Blind transfer (RFC 3515): REFER the caller to ``target``."""
        out: list[Effect] = []
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.ESTABLISHED or call.dialog is None:
            if call is not None and call.live:
                call.transfer_target = target  # answered but not yet ACKed: REFER after the ACK
            return out
        call.transfer_target = target
        self._emit(call, f.CallTransferred, target_uri=target, status="requested")
        refer = call.dialog.make_request(
            "REFER",
            via_host=self.config.host,
            via_port=self.config.port,
            transport=call.peer.transport.upper(),
            headers=[("Refer-To", f"<{target}>"), ("Referred-By", f"<{call.dialog.local_uri}>")],
        )
        self._send_request(call, refer, now, out)
        return out

    def media_closed(self, call_id: str, now: float) -> None:
        """The media session of an ended call has stopped: give its port back."""
        call = self.calls.get(call_id)
        if call is not None:
            call.media_open = False
            self._release_port(call, now)

    # ---------------------------------------------------------------------------------------------
    # plumbing: transactions, timers, facts
    # ---------------------------------------------------------------------------------------------
    def _emit(self, call: Call, model: type[Any], **fields: Any) -> None:
        try:
            self.facts.emit(call.call_id, model, **fields)
        except Exception as exc:  # BufferFull: counted; the call goes on
            m.FACT_ERRORS.inc()
            log.error("call fact refused", fact=model.__name__, error=str(exc), call_id=call.call_id)

    def _absorb(self, transport: str, actions: list[Any], out: list[Effect]) -> list[Any]:
        """Route transaction actions: Send goes out, Terminated reaps; the rest is returned."""
        layer = self.layers[transport]
        rest: list[Any] = []
        for a in actions:
            if isinstance(a, Send):
                out.append(a)
            elif isinstance(a, Terminated):
                layer.server.pop(a.key, None)
                layer.client.pop(a.key, None)
            else:
                rest.append(a)
        return rest

    def _respond(
        self, req: SipRequest, peer: Peer, status: int, now: float, out: list[Effect], **kw: Any
    ) -> SipResponse | None:
        layer = self.layers[peer.transport]
        kw.setdefault("headers", [])
        kw["headers"] = [*kw["headers"], ("Server", self.config.server)]
        response = make_response(req, status, **kw)
        key = server_key(req)
        try:
            self._absorb(peer.transport, layer.respond(req, response, now), out)
        except SipTransactionError:
            return None  # that transaction already has its final response
        m.RESPONSES_SENT.labels(req.method, m.status_class(status)).inc()
        txn = layer.server.get(key)
        if txn is not None:
            self.timers.schedule(("st", (peer.transport, key)), txn.next_deadline)
        return response

    def _send_request(self, call: Call, req: SipRequest, now: float, out: list[Effect]) -> None:
        layer = self.layers[call.peer.transport]
        self._absorb(call.peer.transport, layer.send_request(req, call.peer, now), out)
        key = (req.top_via.branch or "", req.method)
        self._client[key] = (call.call_id, req.method)
        m.TRANSACTIONS.labels("client").inc()
        self.timers.schedule(("ct", (call.peer.transport, key)), layer.client[key].next_deadline)

    def _txn_timer(self, kind: str, key: tuple[str, tuple[str, ...]], now: float, out: list[Effect]) -> None:
        transport, tkey = key
        layer = self.layers[transport]
        txn = (layer.server if kind == "st" else layer.client).get(tkey)
        if txn is None:
            return
        actions = txn.on_timer(now)
        m.RETRANSMISSIONS.inc(sum(1 for a in actions if isinstance(a, Send)))
        for a in self._absorb(transport, actions, out):
            if isinstance(a, TimedOut) and kind == "ct":
                self._client_result(tkey, None, now, out)
        if not txn.terminated:
            self.timers.schedule((kind, key), txn.next_deadline)

    def _ok_timer(self, call_id: str, now: float, out: list[Effect]) -> None:
        call = self.calls.get(call_id)
        if call is None or call.ok is None:
            return
        for a in call.ok.on_timer(now):
            if isinstance(a, Send):
                out.append(a)
                m.RETRANSMISSIONS.inc()
            elif isinstance(a, AckTimeout):
                call.ok = None
                log.info("no ACK for 200 OK, ending the call", call_id=call.call_id)
                self._send_bye(call, "ack_timeout", "system", now, out, force=True)
                return
        self.timers.schedule(("ok", call_id), call.ok.next_deadline)

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

    def _check_media(self, call: Call, now: float, out: list[Effect]) -> None:
        timeout = self.config.media_timeout_s
        assert call.established_at is not None
        if call.on_hold:
            call.timer_at = now + timeout
        else:
            last = max(call.established_at, self.media_activity(call.call_id) or 0.0)
            if now - last >= timeout:
                self._send_bye(call, "media_timeout", "system", now, out)
                return
            call.timer_at = last + timeout
        self.timers.schedule(("call", call.call_id), call.timer_at)

    # ---------------------------------------------------------------------------------------------
    # requests
    # ---------------------------------------------------------------------------------------------
    def _request(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        m.REQUESTS.labels(req.method if req.method in _METHOD_LABELS else "other").inc()
        layer = self.layers[peer.transport]
        for_tu, actions = layer.receive_request(req, peer, now)
        self._absorb(peer.transport, actions, out)
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

    def _options(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        self._respond(req, peer, 200, now, out, headers=[("Allow", ALLOW), ("Accept", "application/sdp")])

    def _register(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        to_uri = req.to_addr.uri
        if self.config.register_auth:
            outcome = self.gate.check(req, now)
            if not outcome.ok:
                if outcome.challenge:
                    if outcome.reason:
                        m.AUTH_FAILURES.labels(outcome.reason).inc()
                    self._respond(req, peer, 401, now, out, headers=list(outcome.challenge))
                else:
                    m.AUTH_FAILURES.labels(outcome.reason or "invalid").inc()
                    self._respond(req, peer, 403, now, out)
                return
            if outcome.username != _user(to_uri):
                m.AUTH_FAILURES.labels("user_mismatch").inc()
                self._respond(req, peer, 403, now, out)
                return
        aor = f"sip:{_user(to_uri)}@{getattr(to_uri, 'host', '')}"
        self.registrar.expire(now)
        result = self.registrar.register(req, aor, now)
        self._respond(req, peer, result.status, now, out, reason=result.reason, headers=list(result.headers))

    # -- a new call -------------------------------------------------------------------------------
    def _invite(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        from_tag = req.from_addr.tag or ""
        call = self._by_invite.get((req.call_id, from_tag))
        if call is not None and call.state is not CallState.CHALLENGED:
            # RFC 6026: a retransmitted INVITE after our 2xx ended its transaction.
            self.layers[peer.transport].server.pop(server_key(req), None)
            if call.ok is not None and req.cseq.seq == call.ok_cseq:
                out.append(Send(call.ok.data, peer))
            elif req.cseq.seq != call.invite.cseq.seq:
                self._respond(req, peer, 482, now, out)  # same call, another request: a loop
            return
        self._respond(req, peer, 100, now, out)
        if call is None:
            call = Call(str(uuid.uuid4()), req, peer, secrets.token_hex(6), now)
            self.calls[call.call_id] = call
            self._by_invite[(call.sip_call_id, call.from_tag)] = call
            m.INVITES_RECEIVED.inc()
            m.CALLS_ACTIVE.inc()
            if not self._admit_and_route(call, req, peer, now, out):
                return
        else:
            call.invite, call.peer = req, peer
            call.fire("credentials")
        try:
            self._setup(call, now, out)
        except Exception:
            log.exception("call setup failed", call_id=call.call_id)
            if call.live and call.state in (CallState.NEW, CallState.RINGING):
                self._reject(call, 500, "internal_error", "internal", now, out)

    def _admit_and_route(
        self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]
    ) -> bool:
        ruri = req.request_uri
        self._emit(
            call,
            f.CallInviteReceived,
            sip_call_id=req.call_id,
            from_uri=str(req.from_addr.uri),
            to_uri=str(ruri),
            caller=_user(req.from_addr.uri),
            callee=_user(ruri),
            remote_addr=str(peer),
            transport=peer.transport,
            sdp_offer=req.body.decode("utf-8", "replace") if req.body else None,
            user_agent=req.header("user-agent"),
        )
        refused = self.admission.refuse(
            active_calls=self.active_calls - 1, ports_free=self.pool.available(now)
        )
        if refused:
            retry = str(self.admission.limits.retry_after_s)
            self._reject(call, 503, refused, "overload", now, out, headers=[("Retry-After", retry)])
            return False
        plan = resolve(self.directory.dialplans(), _user(ruri))
        call.plan = plan
        if plan.action == "reject":
            self._reject(call, plan.reject_status, "dialplan_reject", "dialplan", now, out)
            return False
        self._emit(
            call,
            f.DialplanResolved,
            dialplan_id=plan.dialplan_id,
            action=plan.action,
            target=plan.target,
            prompt_uri=plan.prompt_uri,
            language=plan.language,
        )
        return True

    def _setup(self, call: Call, now: float, out: list[Effect]) -> None:
        req, peer = call.invite, call.peer
        assert call.plan is not None
        if call.plan.require_auth or self.config.require_auth:
            outcome = self.gate.check(req, now)
            if not outcome.ok:
                if outcome.reason:
                    m.AUTH_FAILURES.labels(outcome.reason).inc()
                if outcome.challenge:
                    call.fire("challenge")
                    call.timer_at = now + self.config.challenge_ttl_s
                    self.timers.schedule(("call", call.call_id), call.timer_at)
                    self._respond(
                        req, peer, 401, now, out, to_tag=call.local_tag, headers=list(outcome.challenge)
                    )
                else:
                    self._reject(call, 403, f"auth_{outcome.reason}", "auth", now, out)
                return
        if len(req.contacts) != 1:
            self._reject(call, 400, "bad_contact", "internal", now, out)
            return
        if req.body:
            if req.content_type != "application/sdp":
                self._reject(
                    call, 415, "unsupported_body", "sdp", now, out, headers=[("Accept", "application/sdp")]
                )
                return
            try:
                offer = SessionDescription.parse(req.body)
                self._answer_sdp(offer, 9, None)  # dry run: refuse before any port is taken
            except SdpParseError:
                self._reject(call, 400, "malformed_sdp", "sdp", now, out)
                return
            except SdpNegotiationError as exc:
                self._reject(call, exc.status, "sdp_not_acceptable", "sdp", now, out)
                return
        try:
            call.port = self.pool.allocate(now)
        except PortsExhausted:
            retry = str(self.admission.limits.retry_after_s)
            self._reject(call, 503, "ports_exhausted", "media", now, out, headers=[("Retry-After", retry)])
            return
        self._emit(call, f.MediaPortAllocated, rtp_port=call.port, local_address=self.config.rtp_host)
        if self.config.ring_s > 0:
            call.fire("ring")
            call.ring_until = now + self.config.ring_s
            self.timers.schedule(("call", call.call_id), call.ring_until)
            self._respond(req, peer, 180, now, out, to_tag=call.local_tag)
        else:
            self._answer(call, now, out)

    def _answer_sdp(
        self, offer: SessionDescription, port: int, previous: SessionDescription | None
    ) -> Negotiated:
        policy = self.config.srtp_policy
        return answer(
            offer,
            local_address=self.config.rtp_host,
            local_port=port,
            require_srtp=policy == "required",
            crypto_for=_srtp_key if policy != "off" else None,
            previous=previous,
        )

    def _local_contact(self, peer: Peer) -> str:
        suffix = ";transport=tcp" if peer.transport == "tcp" else ""
        return f"<sip:{self.config.host}:{self.config.port}{suffix}>"

    def _answer(self, call: Call, now: float, out: list[Effect]) -> None:
        req, peer = call.invite, call.peer
        assert call.port is not None
        if req.body:
            neg = self._answer_sdp(SessionDescription.parse(req.body), call.port, None)
            call.negotiated, sdp = neg, neg.sdp
        else:  # late offer: we offer in the 200, the answer comes in the ACK
            call.late_offer = True
            sdp = make_offer(local_address=self.config.rtp_host, local_port=call.port)
        call.local_sdp = sdp
        contact = self._local_contact(peer)
        call.dialog = Dialog.from_request(req, call.local_tag, contact)
        ok = self._respond(
            req,
            peer,
            200,
            now,
            out,
            to_tag=call.local_tag,
            headers=[("Contact", contact), ("Allow", ALLOW)],
            body=bytes(sdp),
            content_type="application/sdp",
        )
        if ok is None:  # the INVITE transaction is gone (e.g. CANCEL crossed): nothing to answer
            self._reject(call, 487, "request_terminated", "internal", now, out, respond=False)
            return
        call.fire("answer")
        call.answered_at, call.final_status = now, 200
        call.ok, call.ok_cseq = InviteOkRetransmitter(ok, peer, now, self.config.timers), req.cseq.seq
        self.timers.schedule(("ok", call.call_id), call.ok.next_deadline)
        self._by_dialog[call.dialog.id] = call
        m.INVITES_ACCEPTED.inc()
        m.SETUP_SECONDS.observe(now - call.invited_at)
        neg = call.negotiated
        self._emit(
            call,
            f.CallAnswered,
            codec=neg.codec.encoding.upper() if neg else "PCMU",
            payload_type=neg.codec.payload_type if neg else 0,
            ptime_ms=neg.ptime if neg else 20,
            srtp=bool(neg and neg.local_crypto),
            remote_rtp_addr=f"{neg.remote_address}:{neg.remote_port}" if neg else None,
            sdp_answer=str(sdp),
        )
        if neg is not None:
            self._open_media(call, neg, out)

    def _open_media(self, call: Call, neg: Negotiated, out: list[Effect]) -> None:
        assert call.port is not None
        call.media_open = True
        call.on_hold = neg.on_hold
        out.append(
            OpenMedia(
                call.call_id,
                call.port,
                (neg.remote_address, neg.remote_port) if neg.remote_port else None,
                neg.codec.encoding.upper(),
                neg.codec.payload_type,
                neg.telephone_event.payload_type if neg.telephone_event else None,
                neg.ptime,
                str(neg.local_crypto) if neg.local_crypto else None,
                str(neg.remote_crypto) if neg.remote_crypto else None,
            )
        )

    # -- ACK, CANCEL -------------------------------------------------------------------------------
    def _ack(self, req: SipRequest, now: float, out: list[Effect]) -> None:
        call = self._by_dialog.get((req.call_id, req.to_addr.tag or "", req.from_addr.tag or ""))
        if call is None or call.ok is None or req.cseq.seq != call.ok_cseq:
            return  # stray or retransmitted ACK
        call.ok.ack_received()
        call.ok = None
        first = call.state is CallState.ANSWERED
        if first:
            call.fire("ack")
            call.established_at = now
            assert call.answered_at is not None
            self._emit(call, f.CallEstablished, ack_delay_ms=round((now - call.answered_at) * 1000, 3))
        if call.late_offer and call.local_sdp is not None:  # the answer to our offer is in the ACK
            call.late_offer = False
            try:
                neg = accept_answer(call.local_sdp, SessionDescription.parse(req.body))
            except (SdpParseError, SdpNegotiationError):
                self._send_bye(call, "error", "system", now, out)
                return
            call.negotiated = neg
            if call.media_open:
                out.append(UpdateMedia(call.call_id, (neg.remote_address, neg.remote_port), neg.direction))
            else:
                self._open_media(call, neg, out)
            self._media_updated(call, neg)
        if not first:
            return
        if call.hangup_pending:
            self._send_bye(call, call.hangup_pending, "agent", now, out)
            return
        if self.config.media_timeout_s > 0:
            call.timer_at = now + self.config.media_timeout_s
            self.timers.schedule(("call", call.call_id), call.timer_at)
        target = call.transfer_target or (
            call.plan.target if call.plan and call.plan.action == "transfer" else None
        )
        if target:
            out.extend(self.transfer(call.call_id, target, now))

    def _media_updated(self, call: Call, neg: Negotiated) -> None:
        call.on_hold = neg.on_hold
        self._emit(
            call,
            f.CallMediaUpdated,
            direction=neg.direction,
            remote_rtp_addr=f"{neg.remote_address}:{neg.remote_port}",
            codec=neg.codec.encoding.upper(),
        )

    def _cancel(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        invite_txn = self.layers[peer.transport].invite_for_cancel(req)
        if invite_txn is None:
            self._respond(req, peer, 481, now, out)
            return
        self._respond(req, peer, 200, now, out)
        call = self._by_invite.get((req.call_id, req.from_addr.tag or ""))
        if call is None or call.state not in (CallState.NEW, CallState.RINGING):
            return  # already answered or refused: the CANCEL has no effect (§9.2)
        self._respond(call.invite, call.peer, 487, now, out, to_tag=call.local_tag)
        call.final_status = 487
        self._emit(call, f.CallCancelled)
        call.fire("end")
        self._finish(call, "cancelled", "caller", 487, now, out)

    # -- in-dialog requests ------------------------------------------------------------------------
    def _in_dialog(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        assert call.dialog is not None
        status = call.dialog.check_request(req)
        if status is not None:
            self._respond(req, peer, status, now, out)
            return
        method = req.method
        if method == "BYE":
            self._respond(req, peer, 200, now, out)
            if call.live:
                if call.ok is not None:
                    call.ok.ack_received()
                    call.ok = None
                call.fire("end")
                self._finish(call, "caller_bye", "caller", 200, now, out)
        elif method == "INVITE":
            self._reinvite(call, req, peer, now, out)
        elif method == "INFO":
            self._info(call, req, peer, now, out)
        elif method == "NOTIFY":
            self._notify(call, req, peer, now, out)
        elif method == "OPTIONS":
            self._options(req, peer, now, out)
        elif method in KNOWN_UNSUPPORTED or method == "REFER":
            self._respond(req, peer, 405, now, out, headers=[("Allow", ALLOW)])
        else:
            self._respond(req, peer, 501, now, out, headers=[("Allow", ALLOW)])

    def _reinvite(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        if call.state is not CallState.ESTABLISHED or call.ok is not None:
            self._respond(req, peer, 491, now, out)  # an offer/answer is still in progress (§14.2)
            return
        assert call.port is not None and call.dialog is not None
        self._respond(req, peer, 100, now, out)
        if req.body:
            try:
                neg = self._answer_sdp(SessionDescription.parse(req.body), call.port, call.local_sdp)
            except SdpParseError:
                self._respond(req, peer, 400, now, out)
                return
            except SdpNegotiationError as exc:
                self._respond(req, peer, exc.status, now, out)
                return
            sdp = neg.sdp
        else:
            neg = None
            call.late_offer = True
            sdp = make_offer(
                local_address=self.config.rtp_host, local_port=call.port, previous=call.local_sdp
            )
        call.local_sdp = sdp
        ok = self._respond(
            req,
            peer,
            200,
            now,
            out,
            to_tag=call.local_tag,
            headers=[("Contact", call.dialog.local_contact), ("Allow", ALLOW)],
            body=bytes(sdp),
            content_type="application/sdp",
        )
        if ok is None:
            return
        call.ok, call.ok_cseq = InviteOkRetransmitter(ok, peer, now, self.config.timers), req.cseq.seq
        self.timers.schedule(("ok", call.call_id), call.ok.next_deadline)
        if neg is not None:
            call.negotiated = neg
            out.append(UpdateMedia(call.call_id, (neg.remote_address, neg.remote_port), neg.direction))
            self._media_updated(call, neg)

    def _info(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        if not req.body:
            self._respond(req, peer, 200, now, out)  # an empty INFO is a keep-alive
            return
        ctype = req.content_type or ""
        if ctype not in ("application/dtmf-relay", "application/dtmf"):
            accept = "application/dtmf-relay, application/dtmf"
            self._respond(req, peer, 415, now, out, headers=[("Accept", accept)])
            return
        dtmf = parse_dtmf_info(ctype, req.body)
        if dtmf is None:
            self._respond(req, peer, 400, now, out, reason="Bad Request (DTMF body)")
            return
        self._respond(req, peer, 200, now, out)
        self._emit(call, f.DtmfReceived, digit=dtmf[0], duration_ms=dtmf[1], method="sip_info")

    def _notify(self, call: Call, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        self._respond(req, peer, 200, now, out)
        event = (req.header("event") or "").split(";", 1)[0].strip().lower()
        if event != "refer" or not call.transfer_target or not call.live:
            return
        status = sipfrag_status(req.body)
        if status is None or status < 200:
            return
        if status < 300:
            self._emit(
                call,
                f.CallTransferred,
                target_uri=call.transfer_target,
                status="completed",
                sip_status=status,
            )
            self._send_bye(call, "transferred", "agent", now, out)
        else:
            self._emit(
                call, f.CallTransferred, target_uri=call.transfer_target, status="failed", sip_status=status
            )
            call.transfer_target = None

    # ---------------------------------------------------------------------------------------------
    # responses to our requests (BYE, REFER)
    # ---------------------------------------------------------------------------------------------
    def _response(self, resp: SipResponse, peer: Peer, now: float, out: list[Effect]) -> None:
        m.RESPONSES_RECEIVED.labels(resp.cseq.method, m.status_class(resp.status)).inc()
        layer = self.layers[peer.transport]
        for a in self._absorb(peer.transport, layer.receive_response(resp, now), out):
            if isinstance(a, ResponseReceived) and a.response.status >= 200:
                self._client_result(a.key, a.response, now, out)
                txn = layer.client.get(a.key)
                if txn is not None:
                    self.timers.schedule(("ct", (peer.transport, a.key)), txn.next_deadline)

    def _client_result(
        self, key: tuple[str, ...], resp: SipResponse | None, now: float, out: list[Effect]
    ) -> None:
        owner = self._client.pop(key, None)
        if owner is None:
            return
        call = self.calls.get(owner[0])
        if call is None:
            return
        if owner[1] == "BYE":
            if call.state is CallState.TERMINATING:
                call.fire("bye_done")
                self._forget(call)
        elif owner[1] == "REFER" and call.transfer_target and call.live:
            status = resp.status if resp is not None else 408
            if status < 300:
                self._emit(
                    call,
                    f.CallTransferred,
                    target_uri=call.transfer_target,
                    status="accepted",
                    sip_status=status,
                )
            else:
                self._emit(
                    call,
                    f.CallTransferred,
                    target_uri=call.transfer_target,
                    status="failed",
                    sip_status=status,
                )
                call.transfer_target = None

    # ---------------------------------------------------------------------------------------------
    # ending calls
    # ---------------------------------------------------------------------------------------------
    def _send_bye(
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
        bye = call.dialog.make_request(
            "BYE",
            via_host=self.config.host,
            via_port=self.config.port,
            transport=call.peer.transport.upper(),
            headers=[("Reason", f'SIP;cause=200;text="{reason}"')],
        )
        self._send_request(call, bye, now, out)
        call.fire("bye_sent")
        self._finish(call, reason, hangup_by, call.final_status or 200, now, out)

    def _reject(
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
        if respond:
            self._respond(
                call.invite, call.peer, status, now, out, to_tag=call.local_tag, headers=headers or []
            )
        call.final_status = status
        m.INVITES_REJECTED.labels(reason).inc()
        self._emit(call, f.CallRejected, sip_status=status, reason=reason, stage=stage)
        call.fire("end")
        self._finish(call, "rejected" if hangup_by == "system" else reason, hangup_by, status, now, out)

    def _finish(
        self, call: Call, reason: str, hangup_by: str, status: int, now: float, out: list[Effect]
    ) -> None:
        """CallEnded, media stop, and — unless a media session must stop first — the port back."""
        call.end_reason = reason
        self.timers.cancel(("call", call.call_id))
        self.timers.cancel(("ok", call.call_id))
        self._emit(
            call, f.CallEnded, reason=reason, hangup_by=hangup_by, sip_status=status, **call.durations(now)
        )
        m.CALLS_ENDED.labels(reason).inc()
        m.CALLS_ACTIVE.dec()
        if call.media_open:
            out.append(CloseMedia(call.call_id))  # the port comes back in media_closed()
        else:
            self._release_port(call, now)
        if call.state is CallState.ENDED:
            self._forget(call)

    def _release_port(self, call: Call, now: float) -> None:
        if call.port is not None:
            self.pool.release(call.port, now)
            self._emit(call, f.MediaPortReleased, rtp_port=call.port)
            call.port = None
        self._forget(call)

    def _forget(self, call: Call) -> None:
        """Drop the call once it is over, its BYE done and its port back."""
        if call.state is not CallState.ENDED or call.media_open or call.port is not None:
            return
        self.calls.pop(call.call_id, None)
        if self._by_invite.get((call.sip_call_id, call.from_tag)) is call:
            del self._by_invite[(call.sip_call_id, call.from_tag)]
        if call.dialog is not None:
            self._by_dialog.pop(call.dialog.id, None)
        forget = getattr(self.facts, "forget", None)
        if forget is not None:
            forget(call.call_id)


_METHOD_LABELS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "NOTIFY", "REFER", *KNOWN_UNSUPPORTED}
)
