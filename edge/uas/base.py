"""Shared state and plumbing of the UAS core (RFC 3261 §17): transactions, timers, facts, SDP policy.

:class:`CoreBase` owns the call tables, the UDP and TCP transaction layers and the one timer heap;
its helpers answer a request through its server transaction (``_respond``), start a client
transaction for a request the edge sends (``_send_request``), run transaction timers and record
facts without ever letting a refused fact stop a call.  The stage mixins (setup, in-dialog,
teardown, registration) build on it; :class:`~edge.uas.core.UasCore` routes to them.

Timer keys on the heap: ``("st"|"ct", (transport, txn key))`` server/client transaction,
``("ok", call_id)`` 2xx retransmission (§13.3.1.4), ``("call", call_id)`` ring time, challenge
expiry and media-timeout checks.

**Proof.** A call is *proven* when its peer has shown it receives what the edge sends: it is a
configured trunk, it answered a digest challenge (it echoed our nonce), it came over TCP (the
handshake), or it ACKed our 2xx (the ACK carries our To-tag).  Until then — a UDP source that may be
spoofed — the edge sends it no more than the protocol needs: no timer-G retransmission of a final
error response (the client's own INVITE retransmissions fetch it again, one for one), at most
``unproven_retransmits`` more copies of the 2xx and never, all copies together, more than
``unproven_ratio`` (3) times the INVITE's bytes (the first copy always goes), no BYE when its ACK never
comes, and no RTP (the media session's source policy, told by :class:`~edge.uas.call.ConfirmMedia`
when the ACK arrives).
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from edge import metrics as m
from edge.facts import FactSink
from edge.media.ports import PortPool
from edge.media.srtp import AES_CM_128_HMAC_SHA1_80, CryptoAttribute, SrtpError
from edge.media.srtp import SUITES as SRTP_SUITES
from edge.sdp import (
    Crypto,
    Negotiated,
    SdpNegotiationError,
    SessionDescription,
    answer,
)
from edge.sip.builders import make_response
from edge.sip.digest import DigestAuthenticator
from edge.sip.errors import SipParseError
from edge.sip.limits import EchoLimits
from edge.sip.message import SipRequest, SipResponse
from edge.sip.registrar import Registrar
from edge.sip.transaction import (
    InviteOkRetransmitter,
    Send,
    SipTransactionError,
    Terminated,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    server_key,
)
from edge.uas.access import Access, Trunk
from edge.uas.admission import Admission, AdmissionLimits
from edge.uas.call import Call, CloseMedia, ConfirmMedia, OpenMedia, Peer, UpdateMedia
from edge.uas.directory import DigestGate, Directory
from edge.uas.ratelimit import SourceGuard, SourceLimits
from edge.uas.routing import next_hop
from edge.uas.timers import TimerHeap

log = structlog.get_logger(__name__)


Effect = Send | OpenMedia | UpdateMedia | ConfirmMedia | CloseMedia
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER, REGISTER"
KNOWN_UNSUPPORTED = frozenset({"SUBSCRIBE", "PUBLISH", "MESSAGE", "UPDATE", "PRACK"})
IN_DIALOG_ONLY = frozenset({"BYE", "INFO", "NOTIFY"})


@dataclass(frozen=True, slots=True)
class UasConfig:
    host: str = "127.0.0.1"  # our SIP address (Via, Contact)
    port: int = 5060
    tls_port: int | None = None  # SIP over TLS, when it listens: Via and Contact of TLS flows
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
    default_access: Access = "open"  # the default plan's, and that of dialplans without one
    unproven_retransmits: int = 2  # copies of a 2xx beyond the first for an unproven UDP peer
    unproven_ratio: float = 3.0  # ...and no more bytes of them than this times the INVITE's
    max_calls_per_source: int = 20  # concurrent calls from one non-trunk IP before 503 (0: no cap)
    limits: SourceLimits = field(default_factory=SourceLimits)  # pre-parse, per source
    echo: EchoLimits = field(default_factory=EchoLimits)  # what a request may make us echo


def _srtp_key(suite: str) -> str | None:
    """Our own SDES key for an offered suite (RFC 4568 §6.1: each side sends with its own key)."""
    known = SRTP_SUITES.get(suite)
    return CryptoAttribute.generate(1, known).key_params if known is not None else None


def check_same_keys(current: Negotiated, new: Negotiated) -> None:
    """A modifying offer/answer must keep the SRTP keys: the media session is not re-keyed
    (RFC 4568 §7.1.4 allows new keys; we answer 488 instead and the old session stays)."""
    before, after = current.remote_crypto, new.remote_crypto
    same = (before is None and after is None) or (
        before is not None
        and after is not None
        and (before.suite, before.inline_key) == (after.suite, after.inline_key)
    )
    if not same:
        raise SdpNegotiationError("SRTP keys cannot change in a re-INVITE")


def user_of(uri: Any) -> str:
    return getattr(uri, "user", None) or ""


def media_addr(neg: Negotiated) -> tuple[str, int] | None:
    """Where the SDP says to send media: None for a refused stream (port 0) or the hold address."""
    if not neg.remote_port or ipaddress.ip_address(neg.remote_address).is_unspecified:
        return None
    return (neg.remote_address, neg.remote_port)


def _family(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


class CoreBase:
    """State and helpers every stage of the UAS core uses."""

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
            "tls": TransactionLayer(config.timers, reliable=True),
        }
        self.timers = TimerHeap()
        self.guard = SourceGuard(config.limits)
        self._rtp_family = _family(config.rtp_host)
        self._per_source: dict[str, int] = {}  # live calls per source IP (non-trunk)
        self.calls: dict[str, Call] = {}  # platform call_id -> call
        self._by_invite: dict[tuple[str, str], Call] = {}  # (SIP Call-ID, From tag) -> call
        self._by_dialog: dict[tuple[str, str, str], Call] = {}  # (Call-ID, our tag, their tag)
        self._client: dict[tuple[str, ...], tuple[str, str]] = {}  # client txn -> (call_id, method)
        self._live = 0  # calls between their first INVITE and CallEnded
        self._received = b""  # the request being handled, as received (UasCore.receive sets it)

    @property
    def next_deadline(self) -> float | None:
        return self.timers.next_deadline

    @property
    def active_calls(self) -> int:
        """Calls not yet over (O(1): counted where CallEnded is recorded, not by a scan per INVITE)."""
        return self._live

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
        m.RESPONSES_SENT.labels(method_label(req.method), m.status_class(status)).inc()
        txn = layer.server.get(key)
        if txn is not None:
            self.timers.schedule(("st", (peer.transport, key)), txn.next_deadline)
        return response

    def _ok_with_sdp(
        self, call: Call, req: SipRequest, peer: Peer, contact: str, now: float, out: list[Effect]
    ) -> SipResponse | None:
        """200 OK to an INVITE carrying ``call.local_sdp``, retransmitted until its ACK (RFC 3261
        §13.3.1.4); None when the INVITE transaction is gone."""
        assert call.local_sdp is not None
        ok = self._respond(
            req,
            peer,
            200,
            now,
            out,
            to_tag=call.local_tag,
            headers=[("Contact", contact), ("Allow", ALLOW)],
            body=bytes(call.local_sdp),
            content_type="application/sdp",
        )
        if ok is not None:
            limit = None if call.proven else self._unproven_copies(req, ok) - 1
            call.ok = InviteOkRetransmitter(ok, peer, now, self.config.timers, limit)
            call.ok_cseq = req.cseq.seq
            self.timers.schedule(("ok", call.call_id), call.ok.next_deadline)
        return ok

    def _unproven_copies(self, req: SipRequest, ok: SipResponse) -> int:
        """Copies of a 2xx an unproven source gets: ``unproven_retransmits`` + 1, fewer if they would
        add up to more than ``unproven_ratio`` times the request's size (the first always goes)."""
        budget = int(self.config.unproven_ratio * len(bytes(req)) // max(1, len(bytes(ok))))
        return max(1, min(self.config.unproven_retransmits + 1, budget))

    def _trunk(self, peer: Peer) -> Trunk | None:
        return self.directory.trunk_for(peer.addr[0])

    def _trying_if_silent(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        """100 Trying only when nothing else was sent yet (§17.2.1 wants one when the TU will not
        answer within 200 ms; every answer here is immediate, so this is a safety net, and an
        unproven source is not sent one more message than the protocol needs)."""
        txn = self.layers[peer.transport].transaction_for(req)
        if txn is not None and txn.last_response is None and not txn.terminated:
            self._respond(req, peer, 100, now, out)

    def _auth_failed(self, peer: Peer, now: float) -> None:
        """A digest attempt failed (403): count it against the source; enough of them block it."""
        if self.guard.auth_failed(peer.addr[0], now):
            m.SOURCES_BLOCKED.inc()
            log.warning("SIP source blocked after failed authentication", source=peer.addr[0])

    def _hop(self, call: Call) -> Peer:
        """Where requests in the call's dialog go: its route set / remote target (edge.uas.routing)."""
        return next_hop(call.dialog, call.peer) if call.dialog is not None else call.peer

    def _send_request(self, call: Call, req: SipRequest, hop: Peer, now: float, out: list[Effect]) -> None:
        layer = self.layers[hop.transport]
        self._absorb(hop.transport, layer.send_request(req, hop, now), out)
        key = (req.top_via.branch or "", req.method)
        self._client[key] = (call.call_id, req.method)
        m.TRANSACTIONS.labels("client").inc()
        self.timers.schedule(("ct", (hop.transport, key)), layer.client[key].next_deadline)

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
                self._client_result(tkey, None, now, out)  # type: ignore[attr-defined]  # Teardown's, a mixin above this base
        if not txn.terminated:
            self.timers.schedule((kind, key), txn.next_deadline)

    def _answer_sdp(
        self,
        offer: SessionDescription,
        port: int,
        previous: SessionDescription | None,
        current: Negotiated | None = None,
    ) -> Negotiated:
        """Our answer under the ``srtp_policy``; ``current`` is the session a re-INVITE modifies."""
        policy = self.config.srtp_policy
        keep = current.local_crypto if current is not None else None

        def crypto_for(suite: str) -> str | None:
            if current is not None:  # keep our key: the engine's outbound SRTP context stays valid
                return keep.key_params if keep is not None and keep.suite == suite else None
            return _srtp_key(suite)

        neg = answer(
            offer,
            local_address=self.config.rtp_host,
            local_port=port,
            require_srtp=policy == "required",
            crypto_for=crypto_for if policy != "off" else None,
            previous=previous,
        )
        if neg.remote_crypto is not None:  # the engine keys libsrtp with it: refuse a bad key now
            try:
                CryptoAttribute.parse(str(neg.remote_crypto))
            except SrtpError as exc:
                raise SdpNegotiationError(f"unusable SRTP key offered: {exc}") from None
        if current is not None:
            check_same_keys(current, neg)
        return neg

    def _check_family(self, neg: Negotiated) -> Negotiated:
        """488 unless the peer's media address is of the family our RTP sockets speak."""
        remote = ipaddress.ip_address(neg.remote_address)  # a literal: edge.sdp checked it
        if self._rtp_family is not None and not remote.is_unspecified and remote.version != self._rtp_family:
            raise SdpNegotiationError(f"media address {remote} is IPv{remote.version}; RTP here is not")
        return neg

    def _offer_crypto(self, current: Negotiated | None) -> tuple[Crypto, ...]:
        """The crypto lines of an offer we make (late offer): the current key, or a new one when
        SRTP is required (without capability negotiation an offer is either RTP/AVP or RTP/SAVP)."""
        if current is not None:
            return (current.local_crypto,) if current.local_crypto is not None else ()
        if self.config.srtp_policy != "required":
            return ()
        suite = AES_CM_128_HMAC_SHA1_80.name
        return (Crypto(1, suite, CryptoAttribute.generate(1).key_params),)

    def _local_port(self, transport: str) -> int:
        """Our port for a transport (Via sent-by, Contact): TLS listens on a port of its own."""
        if transport == "tls" and self.config.tls_port is not None:
            return self.config.tls_port
        return self.config.port

    def _local_contact(self, peer: Peer, req: SipRequest | None = None) -> str:
        """Our Contact for a dialog with ``peer``.  Over TLS it names the TLS port: ``sips:`` when the
        request asks for a secure dialog (RFC 3261 §12.1.1: a SIPS Request-URI, top Record-Route or,
        without Record-Route, Contact), else ``sip:...;transport=tls``: RFC 3261 §26.2.2 deprecates the
        parameter, but it is what phones over TLS (baresip, Asterisk, Linphone) put in their own
        Contact and need back to reach us on the TLS port rather than with TCP."""
        host, port = self.config.host, self._local_port(peer.transport)
        if peer.transport == "tls":
            if req is not None and wants_sips(req):
                return f"<sips:{host}:{port}>"
            return f"<sip:{host}:{port};transport=tls>"
        suffix = ";transport=tcp" if peer.transport == "tcp" else ""
        return f"<sip:{host}:{port}{suffix}>"

    def _options(self, req: SipRequest, peer: Peer, now: float, out: list[Effect]) -> None:
        self._respond(req, peer, 200, now, out, headers=[("Allow", ALLOW), ("Accept", "application/sdp")])


METHOD_LABELS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "NOTIFY", "REFER", *KNOWN_UNSUPPORTED}
)


def method_label(method: str) -> str:
    """A method as a metric label: any token is a method on the wire, and every distinct label value
    is a time series kept for ever — so the label set is closed."""
    return method if method in METHOD_LABELS else "other"


def wants_sips(req: SipRequest) -> bool:
    """The dialog must be secure end to end (RFC 3261 §12.1.1, RFC 5630 §4.1): the Request-URI is
    ``sips:``, or the top Record-Route is, or — with no Record-Route — the caller's Contact is."""
    try:
        if getattr(req.request_uri, "scheme", "") == "sips":
            return True
        routes = req.record_routes
        if routes:
            return getattr(routes[0].uri, "scheme", "") == "sips"
        contacts = req.contacts
        return bool(contacts) and getattr(contacts[0].uri, "scheme", "") == "sips"
    except SipParseError:
        return False
