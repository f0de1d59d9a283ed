"""The edge process, composed: settings → producer, config table, media engine, UAS core, transports,
command consumer, the gRPC MediaService (``edge.grpc_service``, on ``grpc_port``), Prometheus metrics over
HTTP (``edge.metrics_http``, a read token required).  ``run(settings)`` serves until SIGINT/SIGTERM.

Start order makes the edge ready before it takes a call: topics exist, the producer is connected, the
config table holds every dialplan and user, the worker table every worker's newest heartbeat
(``edge.workers``: with ``require_worker`` an agent call is admitted only while a worker can serve
it), the media engine runs, then the SIP sockets open.  The greeting watchdog (``edge.uas.fallback``)
sees every fact the edge records and plays the busy prompt on answered calls the AI side leaves silent.  Stop
order is the reverse, and live calls get a BYE (reason ``shutdown``) so none is left half-open.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

import structlog

from edge.command_consumer import CommandConsumer, CommandDispatcher
from edge.config_table import ConfigFollower, ConfigTable
from edge.facts import FactRecorder, FactSink
from edge.media.ports import edge_port_pool
from edge.media_port import MediaPort, NullMediaPort
from edge.metrics_http import MAX_HEAD, metrics_handler
from edge.sip.transaction import TimerConfig
from edge.sip_sockets import bind_sip_sockets
from edge.transport import (
    MediaDriver,
    SipEndpoint,
    SipTcpProtocol,
    SipTlsProtocol,
    SipUdpProtocol,
    TcpLimits,
    TlsContexts,
    tls_contexts,
)
from edge.uas.access import default_access, exposure_error
from edge.uas.admission import Admission, AdmissionLimits
from edge.uas.briefing import Briefer
from edge.uas.config import LadderLimits
from edge.uas.core import UasConfig, UasCore
from edge.uas.fallback import FallbackPlayer, GreetingWatchdog, ObservedPublisher
from edge.uas.prompt_hangup import PromptHangupWatcher, PromptPlayer
from edge.uas.ratelimit import Bucket, SourceLimits
from edge.uas.recording_policy import PolicyRecorder, RecordingPolicy
from edge.workers import Placement, WorkerFollower, WorkerLimits, WorkerTable
from edge.ws.server import WebService
from sentiric import tracing
from sentiric.auth import settings_verifier
from sentiric.eventlog import topics
from sentiric.eventlog.admin import prepare_topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.follower import topic_partitions
from sentiric.eventlog.producer import EventProducer
from sentiric.settings import Settings
from sentiric.signals import stop_event
from streams.engines.factory import build_tts

log = structlog.get_logger(__name__)

EngineFactory = Callable[[Settings, FactSink], Any]


class EdgeConfigError(ValueError):
    """Settings the edge refuses to start with (one line, saying what to set)."""


def default_engine(settings: Settings, facts: FactSink) -> MediaPort:
    """The real media engine. (`null_engine` is the port-binding stand-in for SIP-only benchmarks.)

    Typed as the SIP side's ``MediaPort``, so the type checker proves the engine (and the sessions it
    opens) satisfy the seam; the app reaches its media commands (``execute``) through ``Any``."""
    from edge.media.engine import MediaEngine
    from edge.media.vad import silero

    if settings.vad_model == "silero":
        silero.preload()  # ~40 ms once, here, rather than in the first call's first frame on the loop
    return MediaEngine(settings, facts)


def null_engine(settings: Settings, facts: FactSink) -> MediaPort:
    pool = edge_port_pool(settings)
    return NullMediaPort(pool, settings.rtp_host)


def uas_config(settings: Settings, port: int, tls_port: int | None = None) -> UasConfig:
    t1 = settings.sip_t1_ms / 1000
    secret = settings.sip_auth_secret.get_secret_value().encode() if settings.sip_auth_secret else None
    # passed only when set: UasConfig's own default draws a random secret
    extra: dict[str, Any] = {"auth_secret": secret} if secret else {}
    return UasConfig(
        host=settings.sip_host,
        port=port,
        tls_port=tls_port,
        rtp_host=settings.rtp_host,
        realm=settings.sip_realm,
        require_auth=settings.sip_require_auth,
        register_auth=settings.sip_register_auth,
        auth_algorithms=tuple(a.strip() for a in settings.sip_auth_algorithms.split(",") if a.strip()),
        ring_s=settings.sip_ring_ms / 1000,
        media_timeout_s=settings.media_timeout_s,
        transfer_ring_s=settings.transfer_ring_s,
        srtp_policy=settings.srtp_policy,
        timers=TimerConfig(t1=t1, t2=8 * t1, t4=10 * t1),
        default_access=default_access(settings.sip_default_access, settings.sip_host),
        unproven_retransmits=settings.sip_unproven_retransmits,
        max_calls_per_source=settings.sip_max_calls_per_source,
        ladder=LadderLimits(
            settings.sip_ladder, settings.sip_ladder_max_messages, settings.sip_ladder_max_bytes
        ),
        limits=source_limits(settings),
        **extra,
    )


def source_limits(settings: Settings) -> SourceLimits:
    s = settings
    return SourceLimits(
        invite=Bucket(s.sip_rate_invite, s.sip_rate_invite_burst),
        register=Bucket(s.sip_rate_register, s.sip_rate_register_burst),
        options=Bucket(s.sip_rate_options, s.sip_rate_options_burst),
        max_udp_bytes=s.sip_max_udp_bytes,
        auth_fail_limit=s.sip_auth_fail_limit,
        auth_fail_window_s=s.sip_auth_fail_window_s,
        block_s=s.sip_auth_block_s,
        max_sources=s.sip_rate_sources_max,
    )


def tcp_limits(settings: Settings) -> TcpLimits:
    return TcpLimits(
        max_connections=settings.sip_tcp_max_connections,
        max_per_source=settings.sip_tcp_max_per_source,
        idle_s=settings.sip_tcp_idle_s,
        write_buffer=settings.sip_tcp_write_buffer,
        handshake_s=settings.sip_tls_handshake_s,
    )


def sip_tls(settings: Settings) -> TlsContexts | None:
    """SIP over TLS contexts when a certificate and key are configured (an unreadable file fails the
    start with the file named, rather than an edge that silently has no TLS)."""
    s = settings
    if s.sip_tls_cert_file is None or s.sip_tls_key_file is None:
        return None
    try:
        return tls_contexts(
            str(s.sip_tls_cert_file),
            str(s.sip_tls_key_file),
            str(s.sip_tls_ca_file) if s.sip_tls_ca_file else None,
        )
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise EdgeConfigError(
            f"SIP over TLS: cannot load {s.sip_tls_cert_file} / {s.sip_tls_key_file}: {exc}"
        ) from exc


class EdgeApp:
    def __init__(self, settings: Settings, *, engine_factory: EngineFactory = default_engine) -> None:
        self.settings = settings
        self.engine_factory = engine_factory
        self.client = client_options(settings)
        self.producer = EventProducer(
            buffer_max=settings.producer_buffer_max,
            buffer_max_bytes=settings.edge_fact_buffer_bytes,
            **self.client,
        )
        self.fallback = FallbackPlayer(
            GreetingWatchdog(timeout_s=settings.greeting_timeout_s, hangup_after_s=8.0)
        )
        self.config = ConfigTable()
        self.announcer = PromptPlayer(
            PromptHangupWatcher(), lambda: build_tts(settings), prompts=self.config.prompt
        )
        self.policy_recorder = PolicyRecorder(
            RecordingPolicy(self.config.plan), settings.recordings_root.resolve()
        )
        self.recorder = FactRecorder(ObservedPublisher(self.producer, self._observe), settings.node_id)
        self.follower = ConfigFollower(self.config, dead_letters=self.producer, **self.client)
        self.workers = WorkerTable()
        self.worker_follower = (
            WorkerFollower(self.workers, dead_letters=self.producer, **self.client)
            if settings.require_worker
            else None
        )
        self.call_partitions = 0  # of sentiric.calls: where a call id's dialog work goes
        self.placement = (
            Placement(
                self.workers,
                lambda: self.call_partitions,
                WorkerLimits(
                    timeout_s=settings.worker_timeout_s,
                    max_lag=settings.worker_max_lag,
                    max_behind_s=settings.worker_max_behind_s,
                ),
            )
            if settings.require_worker
            else None
        )
        self.engine: MediaPort | Any = None
        self.core: UasCore | None = None
        self.admission: Admission | None = None
        self.endpoint: SipEndpoint | None = None
        self.media: MediaDriver | None = None
        self.commands: CommandConsumer | None = None
        self.web: WebService | None = None  # the /ws gateway (edge.ws): browser calls
        self.sip_port = 0
        self.sip_tls_port = 0  # SIP over TLS's bound port; 0: TLS is off
        self.metrics_port = 0
        self.grpc_port = 0  # the MediaService's bound port (settings.grpc_port 0 picks a free one)
        self.loop_lag = 0.0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tls: asyncio.Server | None = None
        self._metrics: asyncio.Server | None = None
        self._grpc: Any = None  # grpc.aio.Server once the MediaService listens
        self._lag_task: asyncio.Task[None] | None = None
        self.briefer: Briefer | None = None  # attended transfers' briefs (edge.uas.briefing)
        self._registrations_task: asyncio.Task[None] | None = None

    def _observe(self, record: Any) -> None:
        """Every fact the edge records, shown to the players that act on facts."""
        self.fallback.observe(record)
        self.announcer.observe(record)
        if self.briefer is not None:
            self.briefer.observe(record)
        self.policy_recorder.observe(record)

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        refusal = exposure_error(s.sip_default_access, s.sip_host)
        if refusal is not None:
            raise EdgeConfigError(refusal)
        tls = sip_tls(s)  # before anything starts: a bad certificate fails the start at once
        loop = asyncio.get_running_loop()
        await prepare_topics(s, client=self.client)
        await self.producer.start()
        await self.follower.start()
        if self.worker_follower is not None:
            self.call_partitions = await topic_partitions(topics.CALLS, self.client)
            await self.worker_follower.start()
        self.engine = self.engine_factory(s, self.recorder)
        if hasattr(self.engine, "start"):
            await self.engine.start()
        sock, tcp_sock = bind_sip_sockets(s.sip_host, s.sip_port, tcp=s.sip_tcp)
        self.sip_port = sock.getsockname()[1]
        tls_sock = None
        if tls is not None:  # bound now: the core's Via and Contact name its port (0 picks one)
            tls_sock = socket.create_server((s.sip_host, s.sip_tls_port), backlog=1024)
            self.sip_tls_port = tls_sock.getsockname()[1]
        limits = AdmissionLimits(
            max_calls=s.max_calls,
            max_log_fill=s.sip_max_log_fill,
            max_loop_lag_s=s.sip_max_loop_lag_ms / 1000,
            retry_after_s=s.sip_retry_after_s,
        )
        self.admission = Admission(
            limits,
            log_fill=lambda: self.producer.fill_ratio,
            loop_lag=lambda: self.loop_lag,
            workers=self.placement,
        )
        self.core = core = UasCore(
            uas_config(s, self.sip_port, self.sip_tls_port or None),
            facts=self.recorder,
            pool=self.engine.pool,
            directory=self.config,
            admission=self.admission,
            media_activity=lambda call_id: self.media.last_rx(call_id, loop.time()) if self.media else None,
        )
        self.endpoint = endpoint = SipEndpoint(core, loop, tcp_limits(s), tls)
        self.media = MediaDriver(
            self.engine,
            on_closed=lambda call_id: endpoint.run(lambda now: core.media_closed(call_id, now)),
            on_failed=lambda call_id: endpoint.hangup(call_id, "media_error"),
        )
        endpoint.media = self.media
        self.briefer = Briefer(self.announcer.say, endpoint.briefed, engine=self.engine, node_id=s.node_id)
        endpoint.briefer = self.briefer.brief
        self.fallback.start(self.recorder, self.engine, endpoint.hangup)
        self.announcer.start(self.recorder, self.engine, endpoint.hangup)
        self.policy_recorder.start(self.engine, s.node_id)
        self._udp, _ = await loop.create_datagram_endpoint(lambda: SipUdpProtocol(endpoint), sock=sock)
        if tcp_sock is not None:
            self._tcp = await loop.create_server(lambda: SipTcpProtocol(endpoint), sock=tcp_sock)
        if tls_sock is not None:  # a plain TCP server: SipTlsProtocol admits, then starts TLS
            self._tls = await loop.create_server(lambda: SipTlsProtocol(endpoint), sock=tls_sock)
        self.web = WebService(
            s, self.recorder, directory=self.config, tokens=self.config, workers=self.placement
        )
        try:
            await self.web.start()
        except OSError as exc:  # the SIP side must not depend on the browser gateway's port
            log.error("web gateway disabled: cannot listen", port=s.ws_port, error=str(exc))
            self.web = None
        front = self.web.front if self.web is not None else lambda d: d
        dispatcher = front(
            CommandDispatcher(endpoint, self.engine, self.announcer.say)
        )  # web calls' commands first
        self.commands = CommandConsumer(
            s.commands_topic,
            dispatcher,
            dead_letters=self.producer,
            **self.client,
        )
        await self.commands.start()
        await self._serve_grpc()
        metrics = metrics_handler(settings_verifier(s, self.config.api_token))  # a read token, like the API's
        self._metrics = await asyncio.start_server(metrics, s.sip_host, s.edge_metrics_port, limit=MAX_HEAD)
        self.metrics_port = self._metrics.sockets[0].getsockname()[1]
        self._lag_task = loop.create_task(self._watch_lag(), name="edge-loop-lag")
        self._registrations_task = loop.create_task(self._keep_registrations(), name="edge-registrations")
        log.info(
            "edge ready",
            sip=f"{s.sip_host}:{self.sip_port}",
            sip_tls=self.sip_tls_port or None,
            grpc_port=self.grpc_port,
            metrics_port=self.metrics_port,
        )

    async def _serve_grpc(self) -> None:
        """The MediaService over the real engine (the port-binding stand-in has no media to serve)."""
        try:
            from edge.grpc_service import serve_media
            from edge.media.engine import MediaEngine
        except ImportError:
            return
        if not isinstance(self.engine, MediaEngine):
            return
        s = self.settings
        try:
            self._grpc, self.grpc_port = await serve_media(
                self.engine, self.producer, s, address=f"{s.sip_host}:{s.grpc_port}", tokens=self.config
            )
        except RuntimeError as exc:  # grpc's failed bind; SIP must not depend on the gRPC port either
            log.error("MediaService disabled: cannot listen", port=s.grpc_port, error=str(exc))
            self._grpc, self.grpc_port = None, 0

    async def _keep_registrations(self, interval: float = 1.0) -> None:
        """REGISTER bindings with the trunks that ask for one, in step with the config as it changes."""
        while True:
            if self.core is not None and self.endpoint is not None:
                self.endpoint.run(self.core.sync_registrations)
            await asyncio.sleep(interval)

    async def _watch_lag(self, interval: float = 0.1) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(interval)
            late = max(0.0, loop.time() - before - interval)
            self.loop_lag = max(late, self.loop_lag * 0.8)  # decays once the loop catches up

    async def drain(self, deadline_s: float) -> None:
        """Graceful stop, first half: new INVITEs get 503 `draining` (+ Retry-After), calls already up
        may finish for `deadline_s`; `stop(reason="drain")` then ends the rest with BYE and CallEnded."""
        if self.admission is None or self.core is None:
            return
        self.admission.draining = True
        log.info("draining: new calls refused", calls=len(self.core.calls), deadline_s=deadline_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._calls_gone(), deadline_s)

    async def stop(self, grace_s: float = 1.0, reason: str = "shutdown") -> None:
        if self.web is not None:
            await self.web.stop()  # web calls get CallEnded(shutdown) while the producer still runs
        if self.core is not None and self.endpoint is not None:
            for call_id in list(self.core.calls):
                self.endpoint.hangup(call_id, reason)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calls_gone(), grace_s)
        if self._registrations_task is not None:
            self._registrations_task.cancel()
        if self.core is not None and self.endpoint is not None:
            core = self.core
            self.endpoint.run(lambda now: core.sync_registrations(now, stop=True))  # unREGISTER, best effort
        await self.fallback.stop()
        await self.announcer.stop()
        if self.briefer is not None:
            await self.briefer.stop()
        await self.policy_recorder.stop()
        for closer in (self.commands, self.follower, self.worker_follower):
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer.stop()
        if self._grpc is not None:
            await self._grpc.stop(grace_s)  # open streams end before the engine's sessions close
        if self._lag_task is not None:
            self._lag_task.cancel()
        for server in (self._tcp, self._tls):
            if server is not None:
                server.close()
        if self._udp is not None:
            self._udp.close()
        if self.endpoint is not None:
            self.endpoint.close()
        if self.media is not None:
            await self.media.drain()
        if hasattr(self.engine, "stop"):
            await self.engine.stop()
        if self._metrics is not None:
            self._metrics.close()
        await self.producer.stop()
        log.info("edge stopped")

    async def _calls_gone(self) -> None:
        while self.core is not None and self.core.calls:  # noqa: ASYNC110 - polled only at shutdown
            await asyncio.sleep(0.02)


async def run(settings: Settings) -> None:
    traced = tracing.configure(settings, service="sentiric-edge")  # off unless an OTLP endpoint is set
    try:
        await _run(settings)
    finally:
        if traced:
            await asyncio.to_thread(tracing.shutdown)  # export the last spans (a blocking HTTP post)


async def _run(settings: Settings) -> None:
    app = EdgeApp(settings)
    await app.start()
    try:  # the process ends at the latest drain + shutdown_timeout_s after the signal
        await stop_event(settings.edge_drain_s + settings.shutdown_timeout_s).wait()
    finally:
        await app.drain(settings.edge_drain_s)
        await app.stop(reason="drain")
