"""Thin asyncio adapters around the sans-IO UAS core (aioquic style).

``datagram_received`` / ``data_received`` → ``core.receive(data, peer, now=loop.time())`` → send
what it returns → re-arm the one timer.  Media effects go to :class:`MediaDriver`, which carries
them out against the media engine in tasks (opening a session is async; the core never waits).
Nothing raises out of these callbacks: the core catches its own errors and a broken TCP framing
closes only that connection.

TCP is bounded (:class:`TcpLimits`): connections in all and per source IP (the one over the cap is
accepted and cut at once — a listening socket cannot refuse selectively), an idle timeout (no complete
message, keep-alive pings included, for ``idle_s`` closes the connection, so a slowloris peer holds
nothing for long), write buffers (a peer that does not read while our unsent bytes pass
``write_buffer`` is cut: ``pause_writing`` is the transport's high-water mark), and the read buffer
(the framer's maximum message size, :mod:`edge.sip.framing`).

TLS (RFC 3261 §26.2: SIP over TLS, port 5061) is the TCP transport with a TLS layer: the same framing
and the same caps, counted together with plain TCP connections.  The connection is admitted (counted
against the caps) when it is accepted, *before* the handshake, and the handshake must finish within
``handshake_s``: a peer that opens TLS and stalls holds its slot that long at most.  Peers are named
``Peer("tls", addr)``; the core answers them with ``SIP/2.0/TLS`` and Contacts on the TLS port.
Connections the edge opens itself (a TLS hop for a BYE) verify the peer's certificate.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import structlog

from edge import metrics as m
from edge.effects import Send
from edge.media.bridge import Leg, MediaBridge
from edge.media.bridge import Ringback as RingbackTone
from edge.media_port import MediaHandle, MediaPort
from edge.sip.errors import SipParseError
from edge.sip.framing import PONG, KeepAlivePing, StreamFramer
from edge.uas.call import (
    BriefTarget,
    CloseMedia,
    ConfirmMedia,
    JoinMedia,
    OpenMedia,
    Peer,
    Ringback,
    UpdateMedia,
)
from edge.uas.core import Effect, UasCore
from sentiric.logs import bind_call, unbind_call

log = structlog.get_logger(__name__)


MediaEffect = OpenMedia | UpdateMedia | ConfirmMedia | CloseMedia | Ringback | JoinMedia


def _leg(session: MediaHandle | None) -> Leg | None:
    """The session as a bridge leg: engines whose sessions carry live taps and injectors (RtpEndpoint)."""
    if session is None or not hasattr(session, "taps") or not hasattr(session, "injectors"):
        return None
    return session  # type: ignore[return-value]  # checked just above: it has the Leg's attributes


class MediaDriver:
    """Opens, updates, confirms and closes media sessions for the core's effects; reports closes back,
    and failures (a session that did not open or broke) to ``on_failed``, which hangs the call up."""

    def __init__(
        self,
        engine: MediaPort,
        on_closed: Callable[[str], None],
        on_failed: Callable[[str], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_closed = on_closed
        self.on_failed = on_failed or (lambda call_id: None)
        self.sessions: dict[str, MediaHandle] = {}
        self._opening: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.ringbacks: dict[str, RingbackTone] = {}  # callers waiting for a bridged transfer
        self.bridges: dict[str, MediaBridge] = {}  # by either leg's call id

    def apply(self, effect: MediaEffect) -> None:
        if isinstance(effect, UpdateMedia | ConfirmMedia):
            session = self.sessions.get(effect.call_id)
            if session is not None:
                self._apply_to(session, effect)
                return
        # each handler takes the effect type it is filed under
        handlers: dict[type, Callable[[Any], Coroutine[Any, Any, None]]] = {
            OpenMedia: self._open,
            UpdateMedia: self._update_later,
            ConfirmMedia: self._update_later,
            CloseMedia: self._close,
            Ringback: self._ringback,
            JoinMedia: self._join,
        }
        coro = handlers[type(effect)]
        task = asyncio.get_running_loop().create_task(coro(effect))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if isinstance(effect, OpenMedia):
            self._opening[effect.call_id] = task

    async def _open(self, e: OpenMedia) -> None:
        bind_call(e.call_id)
        try:
            self.sessions[e.call_id] = await self.engine.open_session(
                e.call_id, e.options, on_failed=self.on_failed
            )
        except Exception:
            log.exception("media session did not open", port=e.options.local_port)
            self.on_failed(e.call_id)
        finally:
            self._opening.pop(e.call_id, None)
            unbind_call()

    @staticmethod
    def _apply_to(session: MediaHandle, e: UpdateMedia | ConfirmMedia) -> None:
        if isinstance(e, UpdateMedia):
            session.update_remote(e.remote_addr, e.direction)
        else:
            session.prove()

    async def _update_later(self, e: UpdateMedia | ConfirmMedia) -> None:
        opening = self._opening.get(e.call_id)
        if opening is not None:
            await asyncio.shield(opening)
        session = self.sessions.get(e.call_id)
        if session is not None:
            self._apply_to(session, e)

    async def _ready(self, call_id: str) -> Leg | None:
        opening = self._opening.get(call_id)
        if opening is not None:
            await asyncio.shield(opening)
        return _leg(self.sessions.get(call_id))

    async def _ringback(self, e: Ringback) -> None:
        tone = self.ringbacks.pop(e.call_id, None)
        if tone is not None:
            tone.end()
        leg = await self._ready(e.call_id)
        if e.on and leg is not None:
            self.ringbacks[e.call_id] = tone = RingbackTone()
            leg.injectors.append(tone)

    async def _join(self, e: JoinMedia) -> None:
        """Bridge the caller and the transfer's target: the ringback stops, the agent's prompt too."""
        tone = self.ringbacks.pop(e.call_id, None)
        if tone is not None:
            tone.end()
        caller, target = await self._ready(e.call_id), await self._ready(e.leg_call_id)
        if caller is None or target is None:
            log.warning("bridged transfer without both media sessions", call_id=e.call_id)
            return
        stop = getattr(caller, "stop_playback", None)
        if stop is not None:
            stop(None, "bridged")
        bridge = MediaBridge(caller, target)
        self.bridges[e.call_id] = self.bridges[e.leg_call_id] = bridge
        bridge.join()

    def _unbridge(self, call_id: str) -> None:
        tone = self.ringbacks.pop(call_id, None)
        if tone is not None:
            tone.end()
        bridge = self.bridges.pop(call_id, None)
        if bridge is not None:
            for leg_id in [k for k, v in self.bridges.items() if v is bridge]:
                del self.bridges[leg_id]
            bridge.split()

    async def _close(self, e: CloseMedia) -> None:
        self._unbridge(e.call_id)
        bind_call(e.call_id)
        try:
            opening = self._opening.get(e.call_id)
            if opening is not None:
                await asyncio.shield(opening)
            session = self.sessions.pop(e.call_id, None)
            if session is not None:
                await session.close()
        except Exception:
            log.exception("media session did not close cleanly")
        finally:
            unbind_call()
            self.on_closed(e.call_id)

    def last_rx(self, call_id: str, loop_now: float) -> float | None:
        """The session's last RTP arrival on the loop's clock (engines stamp time.monotonic())."""
        session = self.sessions.get(call_id)
        if session is None:
            return None
        return session.last_rx_monotonic - time.monotonic() + loop_now

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


@dataclass(frozen=True, slots=True)
class TcpLimits:
    max_connections: int = 1024
    max_per_source: int = 32
    idle_s: float = 300.0
    write_buffer: int = 256 * 1024  # high-water mark of unsent bytes per connection
    handshake_s: float = 5.0  # a TLS handshake not finished by then cuts the connection


@dataclass(frozen=True, slots=True)
class TlsContexts:
    """The endpoint's TLS: ``server`` for accepted connections, ``client`` for the hops it opens."""

    server: ssl.SSLContext
    client: ssl.SSLContext


def tls_contexts(cert_file: str, key_file: str, ca_file: str | None = None) -> TlsContexts:
    """Contexts for SIP over TLS: TLS 1.2 or later (RFC 8996 retires 1.0 and 1.1); the client side
    verifies peers against ``ca_file`` (default: the system's CAs) — RFC 5922 host names, checked
    against the hop's IP literal since the core routes to addresses only."""
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_2
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=ca_file)
    client.minimum_version = ssl.TLSVersion.TLSv1_2
    return TlsContexts(server, client)


class SipEndpoint:
    """Feeds one UasCore from every transport and drives its single timer."""

    def __init__(
        self,
        core: UasCore,
        loop: asyncio.AbstractEventLoop,
        tcp_limits: TcpLimits | None = None,
        tls: TlsContexts | None = None,
    ) -> None:
        self.core = core
        self.loop = loop
        self.tcp_limits = tcp_limits or TcpLimits()
        self.tls = tls
        self.media: MediaDriver | None = None
        # an attended transfer's brief (edge.uas.briefing); unset: no TTS here, the calls join at once
        self.briefer: Callable[[BriefTarget], None] = self._join_unbriefed
        self.udp: asyncio.DatagramTransport | None = None
        self.tcp: dict[Peer, asyncio.Transport] = {}  # open TCP and TLS flows by (transport, address)
        self.tcp_inbound = 0
        self.tcp_per_source: dict[str, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._connecting: dict[Peer, list[bytes]] = {}  # TCP/TLS hops being connected: queued data
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, data: bytes, peer: Peer) -> None:
        self.dispatch(self.core.receive(data, peer, self.loop.time()))

    def run(self, step: Callable[[float], list[Effect] | None]) -> None:
        """Apply a core entry point (hangup, transfer, media_closed) at the loop's now."""
        self.dispatch(step(self.loop.time()) or [])

    def hangup(self, call_id: str, reason: str, by: str = "agent") -> None:
        self.run(lambda now: self.core.hangup(call_id, reason, now, by))

    def transfer(self, call_id: str, target: str, mode: str | None = None, brief: str | None = None) -> None:
        self.run(lambda now: self.core.transfer(call_id, target, now, mode, brief))

    def briefed(self, leg_call_id: str) -> None:
        self.run(lambda now: self.core.briefed(leg_call_id, now))

    def _join_unbriefed(self, e: BriefTarget) -> None:
        self.loop.call_soon(self.briefed, e.leg_call_id)  # later: not inside the dispatch of the answer

    def originate(self, command: Any) -> None:
        self.run(lambda now: self.core.originate(command, now))

    def dispatch(self, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Send):
                self._send(e.data, e.addr)
            elif isinstance(e, BriefTarget):
                self.briefer(e)
            elif self.media is not None:
                self.media.apply(e)
            elif isinstance(e, CloseMedia):
                self.core.media_closed(e.call_id, self.loop.time())
        self._rearm()

    def _send(self, data: bytes, peer: Peer) -> None:
        if peer.transport == "udp":
            if self.udp is not None:
                self.udp.sendto(data, peer.addr)
        else:
            conn = self.tcp.get(peer)
            if conn is not None and not conn.is_closing():
                conn.write(data)
            else:
                self._connect(peer, data)

    def _connect(self, peer: Peer, data: bytes) -> None:
        """A request for a TCP/TLS hop with no open connection (a Record-Route proxy, a moved
        phone): connect, then write; what is sent meanwhile queues.  A failed connect loses the bytes
        and the client transaction's timer F reports the timeout (RFC 3261 §17.1.2.2)."""
        waiting = self._connecting.get(peer)
        if waiting is not None:
            waiting.append(data)
            return
        self._connecting[peer] = [data]
        self.spawn(self._open(peer))

    def spawn(self, coro: Any) -> None:
        """Run ``coro`` as a task the endpoint cancels on close."""
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _open(self, peer: Peer) -> None:
        host, port = peer.addr
        tls: dict[str, Any] = {}
        if peer.transport == "tls":
            if self.tls is None:  # no TLS configured: nothing to reach a TLS hop with
                log.debug("SIP TLS hop without TLS settings", peer=str(peer))
                self._connecting.pop(peer, None)
                return
            tls = {
                "ssl": self.tls.client,
                "server_hostname": host,
                "ssl_handshake_timeout": self.tcp_limits.handshake_s,
            }
        try:
            conn, _ = await self.loop.create_connection(
                lambda: SipTcpProtocol(self, inbound=False, transport_name=peer.transport), host, port, **tls
            )
        except (OSError, ssl.SSLError) as exc:
            log.debug("SIP stream connect failed", peer=str(peer), transport=peer.transport, error=str(exc))
            self._connecting.pop(peer, None)
            return
        for data in self._connecting.pop(peer, []):
            conn.write(data)

    def _rearm(self) -> None:
        when = self.core.next_deadline
        if when is None or (self._timer_at is not None and self._timer_at <= when):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = when
        self._timer = self.loop.call_at(when, self._fire)

    def _fire(self) -> None:
        due, self._timer, self._timer_at = self._timer_at or 0.0, None, None
        self.dispatch(self.core.on_timer(max(self.loop.time(), due)))

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for task in self._tasks:
            task.cancel()

    def admit_tcp(self, host: str) -> str | None:
        """Count an inbound connection from ``host``; the refusal reason when over a cap."""
        limits = self.tcp_limits
        if self.tcp_inbound >= limits.max_connections:
            return "max_connections"
        if self.tcp_per_source.get(host, 0) >= limits.max_per_source:
            return "max_per_source"
        self.tcp_inbound += 1
        self.tcp_per_source[host] = self.tcp_per_source.get(host, 0) + 1
        return None

    def release_tcp(self, host: str) -> None:
        self.tcp_inbound -= 1
        left = self.tcp_per_source.get(host, 1) - 1
        if left > 0:
            self.tcp_per_source[host] = left
        else:
            self.tcp_per_source.pop(host, None)


class SipUdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.endpoint.udp = transport  # type: ignore[assignment]  # a datagram protocol is given a DatagramTransport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.endpoint.handle(data, Peer("udp", (addr[0], addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP socket error", error=str(exc))


class SipTcpProtocol(asyncio.Protocol):
    """One TCP connection: Content-Length framing (RFC 3261 §18.3), CRLF keep-alives (RFC 5626), and
    the endpoint's :class:`TcpLimits`.  ``transport_name`` "tls" on a connection the edge opened with
    an SSL context (``create_connection(ssl=...)``): asyncio calls ``connection_made`` after the
    handshake.  Accepted TLS connections are :class:`SipTlsProtocol`."""

    def __init__(self, endpoint: SipEndpoint, *, inbound: bool = True, transport_name: str = "tcp") -> None:
        self.endpoint = endpoint
        self.inbound = inbound
        self.transport_name = transport_name
        self.framer = StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.peer: Peer | None = None
        self._counted = False
        self._last_message = 0.0
        self._idle: asyncio.TimerHandle | None = None

    def connection_made(self, transport: Any) -> None:
        if self._admit(transport):
            self._serve(transport)

    def _admit(self, transport: Any) -> bool:
        """Name the peer and count an inbound connection against the caps (cut when over one)."""
        self.transport = transport
        peername = transport.get_extra_info("peername")
        if not peername:  # the peer reset before we saw it (SYN, data, RST): nobody to answer
            m.TCP_REFUSED.labels("reset").inc()
            transport.abort()
            return False
        host, port = peername[:2]
        self.peer = Peer(self.transport_name, (host, port))
        if self.inbound:
            refused = self.endpoint.admit_tcp(host)
            if refused is not None:
                m.TCP_REFUSED.labels(refused).inc()
                log.debug("SIP stream connection refused", peer=str(self.peer), reason=refused)
                transport.abort()
                return False
            self._counted = True
        return True

    def _serve(self, transport: Any) -> None:
        """Take messages on ``transport``: the endpoint may now send on it; bounds armed."""
        assert self.peer is not None
        self.transport = transport
        endpoint = self.endpoint
        endpoint.tcp[self.peer] = transport
        limits = endpoint.tcp_limits
        transport.set_write_buffer_limits(high=limits.write_buffer, low=limits.write_buffer // 4)
        self._last_message = endpoint.loop.time()
        self._idle = endpoint.loop.call_later(limits.idle_s, self._check_idle)

    def data_received(self, data: bytes) -> None:
        if self.transport is None or self.peer is None:
            return  # refused in connection_made: what was already read is dropped
        try:
            frames = self.framer.feed(data)
        except SipParseError as exc:
            m.PARSE_ERRORS.labels("dropped").inc()
            log.debug("SIP stream framing error, closing", error=str(exc), peer=str(self.peer))
            self.transport.close()
            return
        if frames:
            self._last_message = self.endpoint.loop.time()
        for frame in frames:
            if self.transport.is_closing():
                return
            if isinstance(frame, KeepAlivePing):
                self.transport.write(PONG)
            else:
                self.endpoint.handle(frame, self.peer)

    def pause_writing(self) -> None:
        """Our unsent bytes passed the high-water mark: the peer does not read. Cut it."""
        m.TCP_REFUSED.labels("slow_reader").inc()
        log.debug("SIP TCP peer does not read, closing", peer=str(self.peer))
        if self.transport is not None:
            self.transport.abort()

    def _check_idle(self) -> None:
        self._idle = None
        if self.transport is None or self.transport.is_closing():
            return
        loop = self.endpoint.loop
        due = self._last_message + self.endpoint.tcp_limits.idle_s
        if loop.time() >= due:
            m.TCP_REFUSED.labels("idle").inc()
            self.transport.close()
        else:
            self._idle = loop.call_at(due, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._counted:
            self._counted = False
            assert self.peer is not None
            self.endpoint.release_tcp(self.peer.addr[0])
        if self.peer is not None and self.endpoint.tcp.get(self.peer) is self.transport:
            del self.endpoint.tcp[self.peer]


class SipTlsProtocol(SipTcpProtocol):
    """One accepted SIP-over-TLS connection, served by a plain TCP server: admitted against the caps
    on accept, then ``loop.start_tls`` with the endpoint's server context and handshake timeout, then
    the TCP protocol over the TLS transport.  (``create_server(ssl=...)`` would hand the connection
    over only after the handshake, when a peer that stalls it has held a socket uncounted.)"""

    def __init__(self, endpoint: SipEndpoint) -> None:
        super().__init__(endpoint, inbound=True, transport_name="tls")
        self._early: list[bytes] | None = None  # plaintext decrypted before start_tls returned

    def connection_made(self, transport: Any) -> None:
        if not self._admit(transport):
            return
        transport.pause_reading()  # the ClientHello waits in the kernel until the TLS layer reads it
        self._early = []
        self.endpoint.spawn(self._handshake(transport))

    async def _handshake(self, raw: Any) -> None:
        endpoint = self.endpoint
        assert endpoint.tls is not None
        try:
            tls = await endpoint.loop.start_tls(
                raw,
                self,
                endpoint.tls.server,
                server_side=True,
                ssl_handshake_timeout=endpoint.tcp_limits.handshake_s,
            )
        except (OSError, ssl.SSLError, TimeoutError) as exc:  # ConnectionAbortedError on the timeout
            reason = (
                "handshake_timeout" if isinstance(exc, ConnectionAbortedError | TimeoutError) else "handshake"
            )
            m.TCP_REFUSED.labels(reason).inc()
            log.debug("SIP TLS handshake failed", peer=str(self.peer), error=repr(exc))
            raw.abort()
            self.connection_lost(exc)  # release the slot (idempotent if asyncio calls it too)
            return
        if tls is None or tls.is_closing():
            self.connection_lost(None)
            return
        early, self._early = self._early or [], None
        self._serve(tls)
        for data in early:
            self.data_received(data)

    def data_received(self, data: bytes) -> None:
        if self._early is not None:  # the TLS layer reads on before start_tls returns its transport
            self._early.append(data)
            return
        super().data_received(data)
