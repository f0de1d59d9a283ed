"""`sentiric up`: the whole platform in one supervised process tree, on embedded defaults.

Starts what is not configured externally — the local Kafka unless SENTIRIC_KAFKA_BOOTSTRAP is set, the
embedded PostgreSQL unless SENTIRIC_DATABASE_URL is set — creates the topics, then runs the processes
(`sentiric edge`, `sentiric worker`, `sentiric api`) as children pointed at them. A child that dies is
restarted with backoff; one that keeps dying stops the platform with its name and exit code. Ctrl-C or
SIGTERM stops the children (SIGTERM, then SIGKILL after a grace period), then PostgreSQL and Kafka.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.topics import platform_topics
from sentiric.settings import Settings, get_settings
from sentiric.signals import stop_event

log = structlog.get_logger(__name__)

PROCESSES = ("edge", "worker", "api")
GRACE_S = 15.0
READY_TIMEOUT_S = 300.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: asyncio.subprocess.Process | None = None
    starts: list[float] = field(default_factory=list)

    async def spawn(self, env: dict[str, str]) -> None:
        self.starts = [t for t in self.starts if time.monotonic() - t < RESTART_WINDOW_S]
        self.starts.append(time.monotonic())
        self.process = await asyncio.create_subprocess_exec(*self.argv, env=env, start_new_session=True)
        log.info("process started", process=self.name, pid=self.process.pid)

    @property
    def crash_looping(self) -> bool:
        return len(self.starts) > MAX_RESTARTS

    async def stop(self) -> None:
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), GRACE_S)
        except TimeoutError:
            log.warning("process did not stop in time, killing", process=self.name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        log.info("process stopped", process=self.name, code=proc.returncode)


def available_processes() -> list[str]:
    """The processes whose commands are installed (each registers itself in `sentiric.cli`)."""
    from sentiric.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [p for p in PROCESSES if p in sub.choices]


async def supervise(settings: Settings, names: list[str], env: dict[str, str]) -> int:
    children = [Child(n, [sys.executable, "-m", "sentiric.cli", n]) for n in names]
    stopping = stop_event()
    loop = asyncio.get_running_loop()
    for child in children:
        await child.spawn(env)

    async def announce() -> None:
        if await wait_ready(settings, names):
            print(banner(settings, names), flush=True)

    ready = asyncio.create_task(announce())
    code = 0
    try:
        while not stopping.is_set():
            waits = {asyncio.ensure_future(c.process.wait()): c for c in children if c.process}
            stop_wait = asyncio.ensure_future(stopping.wait())
            done, pending = await asyncio.wait([*waits, stop_wait], return_when=asyncio.FIRST_COMPLETED)
            for fut in pending:
                fut.cancel()
            for fut in done:
                child = waits.get(fut)
                if child is None or stopping.is_set():
                    continue
                log.error("process exited", process=child.name, code=fut.result())
                if child.crash_looping:
                    log.error("process keeps failing, stopping the platform", process=child.name)
                    code = 1
                    stopping.set()
                    break
                await asyncio.sleep(min(2 ** (len(child.starts) - 1), 10))
                await child.spawn(env)
    finally:
        ready.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await asyncio.gather(*(c.stop() for c in reversed(children)))
    return code


async def _sip_answers(host: str, port: int) -> bool:
    """A SIP OPTIONS over UDP gets any response: the edge's SIP stack is serving."""
    loop = asyncio.get_running_loop()
    answered = loop.create_future()

    class Probe(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not answered.done() and data.startswith(b"SIP/2.0 "):
                answered.set_result(True)

    transport, _ = await loop.create_datagram_endpoint(Probe, remote_addr=(host, port))
    try:
        local = transport.get_extra_info("sockname")
        branch = f"z9hG4bK-up-{time.monotonic_ns()}"
        transport.sendto(
            (
                f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {local[0]}:{local[1]};branch={branch};rport\r\n"
                "Max-Forwards: 70\r\n"
                f"From: <sip:up@{local[0]}>;tag=up\r\nTo: <sip:{host}:{port}>\r\n"
                f"Call-ID: {branch}@sentiric-up\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            ).encode()
        )
        await asyncio.wait_for(answered, 1.0)
        return True
    except (TimeoutError, OSError):
        return False
    finally:
        transport.close()


async def _api_answers(settings: Settings) -> bool:
    import httpx

    try:
        # Our own process on loopback: the certificate may name another host, nothing to verify here.
        async with httpx.AsyncClient(timeout=2, verify=False) as client:
            r = await client.get(f"{_api_scheme(settings)}://{settings.api_host}:{settings.api_port}/healthz")
            return r.status_code == 200
    except httpx.HTTPError:
        return False


async def _worker_joined(settings: Settings) -> bool:
    """The streams worker's consumer group (the Faust app id) has a stable assignment."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(**client_options(settings))
    try:
        await admin.start()
        (response,) = await admin.describe_consumer_groups(["sentiric"])
        _error, _group, state, *_rest = response.groups[0]
        return bool(state == "Stable")
    except (KafkaError, ValueError, IndexError):
        return False
    finally:
        await admin.close()


async def wait_ready(settings: Settings, names: list[str]) -> bool:
    """Until every started process serves: SIP answers OPTIONS, the API is healthy, the worker joined."""
    checks = {
        "edge": lambda: _sip_answers(settings.sip_host, settings.sip_port),
        "api": lambda: _api_answers(settings),
        "worker": lambda: _worker_joined(settings),
    }
    pending = [n for n in names if n in checks]
    deadline = time.monotonic() + READY_TIMEOUT_S
    while pending and time.monotonic() < deadline:
        results = await asyncio.gather(*(checks[n]() for n in pending))
        pending = [n for n, ok in zip(pending, results, strict=True) if not ok]
        if pending:
            await asyncio.sleep(0.5)
    if pending:
        log.error("processes not ready in time", processes=pending)
    return not pending


def _api_scheme(settings: Settings) -> str:
    return "https" if settings.api_tls else "http"


def banner(settings: Settings, names: list[str]) -> str:
    lines = [f"Sentiric is up (log {settings.bootstrap_servers}):"]
    if "edge" in names:
        lines.append(f"  SIP        sip:agent@{settings.sip_host}:{settings.sip_port} (UDP and TCP)")
        if settings.sip_tls:
            lines.append(f"  SIP-TLS    sips:agent@{settings.sip_host}:{settings.sip_tls_port}")
        ws = "wss" if settings.api_tls else "ws"
        lines.append(f"  WebSocket  {ws}://{settings.sip_host}:{settings.ws_port}/ws")
    if "api" in names:
        base = f"{_api_scheme(settings)}://{settings.api_host}:{settings.api_port}"
        lines.append(f"  Dashboard  {base}/    talk in the browser: {base}/talk    API docs: {base}/docs")
    lines.append("  Ctrl-C stops everything.")
    return "\n".join(lines)


async def _prepare_log(settings: Settings) -> None:
    await ensure_topics(
        platform_topics(
            partitions=settings.topic_partitions,
            calls_retention_ms=settings.calls_retention_ms,
            node_ids=(settings.node_id,),
        ),
        replication=settings.topic_replication,
        **client_options(settings),
    )


def up(args: argparse.Namespace) -> int:
    from sentiric.broker.cluster import local_broker
    from sentiric.broker.local_kafka import BrokerError
    from sentiric.database import DatabaseError, EmbeddedPostgres
    from sentiric.eventlog.connection import require_access
    from sentiric.exposure import default_token_refusal

    settings = get_settings()
    names = [n for n in available_processes() if not args.only or n in args.only]
    binds = {"the API": settings.api_host} if "api" in names else {}
    if "edge" in names:  # the edge's /ws gateway and gRPC MediaService listen on sip_host
        binds["the edge's /ws and gRPC"] = settings.sip_host
    refusal = default_token_refusal(settings, binds)
    if refusal is None and "edge" in names:
        from edge.uas.access import exposure_error

        refusal = exposure_error(settings.sip_default_access, settings.sip_host)
    if refusal is not None:
        print(f"sentiric up: {refusal}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    kafka = local_broker(settings)  # one node, or SENTIRIC_KAFKA_NODES of them
    postgres = EmbeddedPostgres(settings)
    started: list[Any] = []
    try:
        if settings.embedded_kafka:
            print(f"starting the local Kafka on {kafka.bootstrap} (data in {kafka.data_dir})", flush=True)
            if not kafka.status().running:
                started.append(kafka)
            kafka.start(detach=False)
        env.update(kafka.client_env())  # bootstrap, replication and, for SASL_SSL, CA and credentials
        require_access(settings)  # wrong credentials or CA: one line (sentiric.cli), not five crash loops
        if settings.database_url is None:
            print(f"starting the embedded PostgreSQL (data in {postgres.pgdata})", flush=True)
            if not postgres.status().running:
                started.append(postgres)
            env["SENTIRIC_DATABASE_URL"] = postgres.start()
        asyncio.run(_prepare_log(settings))
        print(f"starting {', '.join(names)}; the addresses follow once all of them serve", flush=True)
        return asyncio.run(supervise(settings, names, env))
    except (BrokerError, DatabaseError) as exc:
        print(f"sentiric up: {exc}", file=sys.stderr)
        return 1
    finally:
        for service in reversed(started):
            service.stop()


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("up", help="run the whole platform on embedded defaults")
    parser.add_argument("--only", nargs="+", choices=PROCESSES, help="run only these processes")
    parser.set_defaults(func=up)
