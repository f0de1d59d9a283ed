"""The asyncio side of the WebSocket gateway: ``/ws`` on ``SENTIRIC_WS_PORT`` with ``websockets``.

Thin adapters only (the call logic is the sans-IO ``edge.ws.session.WebCall``):

- ``WsConnection`` pumps one connection: frames in → ``call.receive`` → effects out; one timer task
  re-armed at ``call.next_deadline``; a writer task draining a bounded outbox (a client that stops
  reading is closed, never allowed to grow memory or stall the loop).
- ``WsServer`` accepts connections on ``/ws`` (``wss`` when the API has a certificate,
  ``api_tls_cert_file``/``api_tls_key_file``) (anything else: HTTP 404) that pass ``edge.ws.auth``
  (allowed ``Origin``, a token or the dashboard's session cookie: else HTTP 403 / 401, before any call
  exists) and makes each a call.
- ``WebService`` composes what a gateway needs on the log: the fact recorder (shared with the edge
  when embedded), the ``sentiric.calls`` tail, the API tokens (the edge's config table, or its own
  follower of ``sentiric.config`` when running alone) and, only when running alone, its own command
  consumer. It refuses to listen beyond loopback while the admin token is the default.

Query parameters on the upgrade request: ``caller`` and ``to`` (the dialled "number", matched by the
dialplans like a SIP request-URI user); both ``[A-Za-z0-9_.+-]{1,32}``, default ``web``.
Run alone with ``python -m edge.ws.server`` (uses the usual ``SENTIRIC_*`` settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import structlog
from prometheus_client import Counter
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from edge.command_consumer import CommandConsumer
from edge.config_table import ConfigFollower, ConfigTable
from edge.effects import Emit
from edge.facts import FactRecorder
from edge.media.engine import pause_ms
from edge.uas.admission import Workers
from edge.ws import protocol as p
from edge.ws.auth import Refusal, WsAuth
from edge.ws.gateway import CallTail, Dialplans, GatewayFirst, WebGateway
from edge.ws.session import Close, Effect, Peer, SendAudio, SendText, WebCall, vad_config
from sentiric.auth import settings_verifier
from sentiric.eventlog import topics
from sentiric.eventlog.admin import prepare_topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.producer import EventProducer
from sentiric.exposure import check_bind
from sentiric.settings import Settings
from sentiric.signals import until_signalled

log = structlog.get_logger(__name__)

PATH = "/ws"
TRY_AGAIN_LATER = 1013
"""Close code (RFC 6455 §7.4.1, IANA registry): no dialog worker can serve a session now."""
REFUSED = Counter("sentiric_ws_refused_total", "/ws upgrades refused before a call", ["status"])
OUTBOX_MAX = 1024  # frames queued for one client (about 100 s of agent audio in 100 ms chunks)
_NAME = re.compile(r"[A-Za-z0-9_.+\-]{1,32}")
_CLOSED = object()


def _name(query: dict[str, list[str]], key: str) -> str:
    value = (query.get(key) or ["web"])[0]
    return value if _NAME.fullmatch(value) else "web"


def may_call(principal: object, tenant: str) -> bool:
    """Whether ``principal`` may call a number of ``tenant`` (the tenant it routes to,
    ``edge.uas.tenants``): a tenant's principal its own tenant's only, a platform principal any. A
    principal that names no tenant (an API before tenants) is not restricted."""
    own = getattr(principal, "tenant", None)
    return own is None or bool(getattr(principal, "platform", False)) or own == tenant


class WsConnection:
    def __init__(self, ws: ServerConnection, call: WebCall, gateway: WebGateway) -> None:
        self.ws = ws
        self.call = call
        self.gateway = gateway
        self._outbox: asyncio.Queue[Any] = asyncio.Queue(OUTBOX_MAX)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()

    def apply(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Emit):
                self.gateway.facts.record(effect.fact)
            elif isinstance(effect, SendText):
                self._push(str(effect.message))
            elif isinstance(effect, SendAudio):
                self._push(effect.pcm)
            else:
                self._push(effect)
        self._wake.set()

    def _push(self, item: Any) -> None:
        try:
            self._outbox.put_nowait(item)
        except asyncio.QueueFull:
            while not self._outbox.empty():  # drop the backlog: only the close goes out
                self._outbox.get_nowait()
            self.apply(self.call.overflow(self._loop.time()))

    async def run(self) -> None:
        writer = asyncio.create_task(self._write(), name=f"ws-write-{self.call.call_id}")
        timers = asyncio.create_task(self._timers(), name=f"ws-timer-{self.call.call_id}")
        try:
            async for data in self.ws:
                self.apply(self.call.receive(data, self._loop.time()))
        except ConnectionClosed:
            pass
        finally:
            self.apply(self.call.peer_closed(self._loop.time()))
            timers.cancel()
            with contextlib.suppress(asyncio.QueueFull):
                self._outbox.put_nowait(_CLOSED)
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(writer, 5.0)
            writer.cancel()

    async def _write(self) -> None:
        while True:
            item = await self._outbox.get()
            if item is _CLOSED:
                return
            try:
                if isinstance(item, Close):
                    await self.ws.close(item.code, item.reason)
                    return
                await self.ws.send(item)
            except ConnectionClosed:
                return

    async def _timers(self) -> None:
        while not self.call.ended:
            self._wake.clear()
            deadline = self.call.next_deadline
            if deadline is None:
                await self._wake.wait()
                continue
            delay = deadline - self._loop.time()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                if self._loop.time() < deadline:
                    continue  # woken early: deadlines may have moved
            self.apply(self.call.tick(self._loop.time()))


class WsServer:
    def __init__(
        self,
        gateway: WebGateway,
        *,
        auth: WsAuth,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: p.Limits | None = None,
        vad: dict[str, Any] | None = None,
        workers: Workers | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.gateway = gateway
        self.tls = tls  # set: wss (the API's certificate, so the browser trusts both alike)
        self.auth = auth
        self.workers = workers  # edge.workers.Placement: agent sessions only where a worker serves
        self.host = host
        self.port = port
        self.limits = limits or p.Limits()
        self.vad = vad or {}
        self._server: Server | None = None

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._route,
            max_size=self.limits.max_frame_bytes * 4,  # hard stop; the session closes at 1x with a reason
            ping_interval=20,
            ping_timeout=20,
            ssl=self.tls,
        )
        self.port = next(iter(self._server.sockets)).getsockname()[1]
        log.info("web gateway listening", url=f"{self.scheme}://{self.host}:{self.port}{PATH}")

    @property
    def scheme(self) -> str:
        return "wss" if self.tls is not None else "ws"

    def _route(self, connection: ServerConnection, request: Request) -> Response | None:
        target = urlsplit(request.path)
        if target.path != PATH:
            return connection.respond(404, f"WebSocket endpoint is {PATH}\n")
        headers: dict[str, str] = {}
        for name in ("Origin", "Authorization", "Cookie"):
            values = request.headers.get_all(name)
            if len(values) > 1 and name != "Cookie":
                return connection.respond(400, f"more than one {name} header\n")
            if values:
                headers[name] = "; ".join(values)
        outcome = self.auth.check(headers, target.query, time.time())
        if isinstance(outcome, Refusal):
            REFUSED.labels(str(outcome.status)).inc()
            remote = connection.remote_address[0] if connection.remote_address else "?"
            log.debug("web call refused", status=outcome.status, reason=outcome.reason, remote=remote)
            response = connection.respond(outcome.status, f"{outcome.reason}\n")
            response.headers.update(outcome.headers)
            return response
        callee = _name(parse_qs(target.query), "to")
        if not may_call(outcome, self.gateway.plan_for(callee).tenant):
            REFUSED.labels("403").inc()
            return connection.respond(403, "the number is another tenant's\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        loop = asyncio.get_running_loop()
        assert ws.request is not None
        query = parse_qs(urlsplit(ws.request.path).query)
        host, port = ws.remote_address[:2]
        peer = Peer(
            f"{host}:{port}", _name(query, "caller"), _name(query, "to"), ws.request.headers.get("User-Agent")
        )
        plan = self.gateway.plan_for(peer.callee)
        workers = self.workers if plan.action == "agent" else None
        call_id = workers.draw() if workers is not None else str(uuid.uuid4())
        busy = workers.refusal(call_id) if workers is not None else None
        if busy is not None:  # never a silent session: no dialog worker could serve it
            REFUSED.labels("1013").inc()
            log.info("web call refused", reason=busy)
            await ws.close(TRY_AGAIN_LATER, "try again later")
            return
        call = WebCall(
            call_id,
            peer,
            plan=plan,
            known=self.gateway.caller_for(peer.caller, plan.tenant),
            limits=self.limits,
            vad=vad_config(**self.vad),
        )
        set_tenant = getattr(self.gateway.facts, "set_tenant", None)
        if set_tenant is not None:  # every fact of the call carries its tenant (the plan's)
            set_tenant(call_id, plan.tenant)
        continue_trace = getattr(self.gateway.facts, "continue_trace", None)
        if continue_trace is not None:  # a client's own trace (sentiric.tracing; a no-op when off)
            continue_trace(call_id, ws.request.headers.get("traceparent"))
        link = WsConnection(ws, call, self.gateway)
        self.gateway.register(link)
        try:
            link.apply(call.open(loop.time()))
            await link.run()
        finally:
            self.gateway.unregister(call_id)

    async def stop(self, grace_s: float = 2.0) -> None:
        loop = asyncio.get_running_loop()
        for link in list(self.gateway.links.values()):
            link.apply(link.call.shutdown(loop.time()))
        if self._server is not None:
            self._server.close(close_connections=False)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), grace_s)
            self._server.close()


def api_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The server context of wss when the API has a certificate (``api_tls_cert_file``/``_key_file``)."""
    if settings.api_tls_cert_file is None or settings.api_tls_key_file is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.api_tls_cert_file, settings.api_tls_key_file)
    return context


class WebService:
    """The gateway with its server and log feeds; embeddable in the edge or run alone."""

    def __init__(
        self,
        settings: Settings,
        recorder: FactRecorder,
        *,
        directory: Dialplans | None = None,
        tokens: ConfigTable | None = None,
        config_topic: str = topics.CONFIG,
        own_commands: bool = False,
        port: int | None = None,
        limits: p.Limits | None = None,
        workers: Workers | None = None,
    ) -> None:
        self.settings = settings
        self.client = client_options(settings)
        # API tokens: the edge's own config table, or a follower of the config topic when alone.
        self.tokens = tokens if tokens is not None else ConfigTable()
        # Callers are looked up in the same table (contacts, SIP users: edge.uas.callerid).
        self.gateway = WebGateway(recorder, directory=directory, callers=self.tokens)
        self.config = (
            ConfigFollower(self.tokens, topic=config_topic, **self.client) if tokens is None else None
        )
        verifier = settings_verifier(settings, self.tokens.api_token)
        vad = {
            "model": settings.vad_model,
            "threshold": settings.vad_threshold,
            "aggressiveness": settings.vad_aggressiveness,
            "end_silence_ms": settings.vad_end_silence_ms,
            "min_utterance_ms": settings.vad_min_utterance_ms,
            "max_utterance_ms": settings.vad_max_utterance_ms,
            "chunk_ms": settings.partial_audio_ms,
            "pause_ms": pause_ms(settings),  # the answer prepared at the caller's pause, as on SIP
        }
        self.server = WsServer(
            self.gateway,
            auth=WsAuth(verifier, settings.ws_origins),
            host=settings.sip_host,
            port=settings.ws_port if port is None else port,
            limits=limits,
            vad=vad,
            workers=workers,
            tls=api_tls_context(settings),
        )
        self.tail = CallTail(self.gateway, **self.client)
        self.commands = (
            CommandConsumer(settings.commands_topic, GatewayFirst(self.gateway), **self.client)
            if own_commands
            else None
        )

    @property
    def port(self) -> int:
        return self.server.port

    def front(self, dispatcher: Any) -> GatewayFirst:
        """The edge's command dispatcher, with web calls served first."""
        return GatewayFirst(self.gateway, dispatcher)

    async def start(self) -> None:
        """Start the feeds, then listen; on failure (e.g. the port is taken) nothing is left running."""
        check_bind(self.settings, "the /ws gateway", self.server.host)
        try:
            if self.config is not None:
                await self.config.start()  # tokens issued before we started are known before we listen
            await self.tail.start()
            if self.commands is not None:
                await self.commands.start()
            await self.server.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.server.stop()
        for part in (self.commands, self.tail, self.config):
            if part is not None:
                with contextlib.suppress(Exception):
                    await part.stop()


async def run(settings: Settings) -> None:
    """The gateway alone: its own producer and command consumer (for when no edge embeds it)."""
    client = client_options(settings)
    await prepare_topics(settings, client=client)
    producer = EventProducer(buffer_max=settings.producer_buffer_max, **client)
    await producer.start()
    service = WebService(settings, FactRecorder(producer, settings.node_id), own_commands=True)
    await service.start()
    try:
        await until_signalled()
    finally:
        await service.stop()
        await producer.stop()


if __name__ == "__main__":
    from sentiric.logs import configure
    from sentiric.settings import get_settings

    configure(get_settings(), service="sentiric-ws")
    from sentiric import tracing

    tracing.configure(get_settings(), service="sentiric-ws")  # off unless an OTLP endpoint is set
    asyncio.run(run(get_settings()))
