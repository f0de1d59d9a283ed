"""`sentiric up`: the whole platform in one supervised process tree, on embedded defaults.

Starts what is not configured externally — the local Kafka (one node or a cluster) unless
SENTIRIC_KAFKA_BOOTSTRAP is set, the embedded PostgreSQL unless SENTIRIC_DATABASE_URL is set — creates
the topics, then runs the processes (`sentiric edge` N times, `sentiric worker` M times, `sentiric api`) as
children pointed at them.

Supervision: every child this process started — each broker node and PostgreSQL included — is
restarted when it exits, with backoff (1 s doubling to `up_restart_backoff_max_s`); a child that is
alive but stops answering (broker Metadata, `pg_isready`, SIP OPTIONS, the API's /healthz with any
status) for `up_liveness_grace_s` is killed and restarted. Each restart is a log line and a count in
`sentiric_supervisor_restarts_total{child}`, which the API's /metrics includes (the supervisor writes it
to `data_dir/up.metrics.prom`). A child that keeps dying (more than MAX_RESTARTS starts within
RESTART_WINDOW_S) stops the platform with its name.

Stopping (Ctrl-C, SIGTERM) finishes within `up_stop_timeout_s`: SIGTERM to the processes, SIGKILL to
what is left after two thirds of it, then the same for the brokers and PostgreSQL. No child outlives
this process: each gets a parent-death signal, leads its own process group (so a Ctrl-C in the
terminal reaches only the supervisor, and a kill reaches the whole subtree), and is listed with its
start time in `data_dir/up.run.json`, from which the next `sentiric up` ends any survivor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from sentiric.eventlog.admin import prepare_topics
from sentiric.eventlog.connection import client_options
from sentiric.plugins import Registry, registry
from sentiric.processes import RunFile, kill_group, parent_death_signal
from sentiric.settings import Settings, get_settings

log = structlog.get_logger(__name__)

PROCESSES = ("edge", "worker", "api")
READY_TIMEOUT_S = 300.0
MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
LIVENESS_INTERVAL_S = 2.0
POLL_S = 0.2
RUN_FILE = "up.run.json"
METRICS_FILE = "up.metrics.prom"


@dataclass
class Child:
    """One supervised process. Subclasses say how it starts, whether it answers and how it stops."""

    name: str
    infra: bool = False  # a dependency (broker node, PostgreSQL): stopped after the processes
    starts: list[float] = field(default_factory=list)
    generation: int = 0  # bumped at every (re)start: liveness only counts what this one answered

    def pid(self) -> int | None:
        raise NotImplementedError

    def returncode(self) -> int | None:
        """None while the process runs (or none was started)."""
        raise NotImplementedError

    async def _start(self) -> None:
        raise NotImplementedError

    async def answers(self) -> bool | None:
        """Liveness: True/False, or None for a child with nothing to ask (it is alive while it runs)."""
        return None

    def terminate(self) -> None:
        """Begin an orderly stop."""
        pid = self.pid()
        if pid is not None and self.returncode() is None:
            kill_group(pid, signal.SIGTERM)

    def kill(self) -> None:
        pid = self.pid()
        if pid is not None and self.returncode() is None:
            kill_group(pid, signal.SIGKILL)

    def after_stop(self, clean: bool) -> None:
        """Bookkeeping once the process is gone (pid files)."""

    async def spawn(self) -> None:
        self.starts = [t for t in self.starts if time.monotonic() - t < RESTART_WINDOW_S]
        self.starts.append(time.monotonic())
        self.generation += 1
        await self._start()
        log.info("process started", process=self.name, pid=self.pid())

    @property
    def crash_looping(self) -> bool:
        return len(self.starts) > MAX_RESTARTS

    @property
    def running(self) -> bool:
        return self.pid() is not None and self.returncode() is None

    async def wait(self) -> int:
        while (code := self.returncode()) is None:  # noqa: ASYNC110 - a Popen, not an asyncio process
            await asyncio.sleep(POLL_S)
        return code


@dataclass
class ProcessChild(Child):
    """`sentiric edge|worker|api` (a Python child of this interpreter)."""

    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    probe: Any = None  # async () -> bool, or None
    process: asyncio.subprocess.Process | None = None

    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def returncode(self) -> int | None:
        return self.process.returncode if self.process else None

    async def _start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, start_new_session=True, preexec_fn=parent_death_signal(signal.SIGTERM)
        )

    async def answers(self) -> bool | None:
        return None if self.probe is None else bool(await self.probe())

    async def wait(self) -> int:
        assert self.process is not None
        return await self.process.wait()


@dataclass
class BrokerNodeChild(Child):
    """One node of the local Kafka (`LocalKafka`): started on the loop's thread, which lives as long as
    the supervisor, because Linux ties the parent-death signal to the thread that forked."""

    node: Any = None  # LocalKafka

    def _process(self) -> subprocess.Popen[bytes] | None:
        return self.node._process  # type: ignore[no-any-return]  # node is a LocalKafka, imported lazily, so Any

    def pid(self) -> int | None:
        proc = self._process()
        return proc.pid if proc else None

    def returncode(self) -> int | None:
        proc = self._process()
        return proc.poll() if proc else None

    async def _start(self) -> None:
        await asyncio.to_thread(self.node.prepare)  # ports free, storage formatted, configuration
        self.node.spawn(detach=False)
        await asyncio.to_thread(self.node.wait_until_answering, timeout=self.node.start_timeout)

    async def answers(self) -> bool | None:
        from sentiric.broker.local_kafka import probe
        from sentiric.broker.properties import LOCALHOST

        role = self.node.role
        if role is None:
            port, tls = self.node.settings.kafka_port, None
        else:  # in a cluster, this node answering at all: the others' absence is not its fault
            port, tls = role.probe_port, (role.probe_tls() if role.probe_tls is not None else None)
        return await asyncio.to_thread(lambda: probe(LOCALHOST, port, timeout=2.0, tls=tls) is not None)

    def terminate(self) -> None:  # the JVM only: a controlled shutdown
        pid = self.pid()
        if pid is not None and self.returncode() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def after_stop(self, clean: bool) -> None:
        pid = self.pid()
        if pid is not None:
            self.node.finish_stop(pid, clean=clean)


@dataclass
class PostgresChild(Child):
    """The embedded PostgreSQL's postmaster, in the foreground (not daemonized by pg_ctl)."""

    postgres: Any = None  # EmbeddedPostgres
    process: subprocess.Popen[bytes] | None = None
    dsn: str = ""

    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def returncode(self) -> int | None:
        return self.process.poll() if self.process else None

    async def _start(self) -> None:
        # SIGINT is PostgreSQL's fast shutdown: sessions end, everything committed is kept
        self.process = self.postgres.spawn(parent_death_signal(signal.SIGINT))
        self.dsn = await asyncio.to_thread(self.postgres.wait_ready, self.process)

    async def answers(self) -> bool | None:
        bin_dir: Path = self.postgres.bin_dir
        port = self.postgres.settings.postgres_port
        proc = await asyncio.create_subprocess_exec(
            str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "3",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            return await asyncio.wait_for(proc.wait(), 5) == 0
        except TimeoutError:
            proc.kill()
            await proc.wait()
            return False

    def terminate(self) -> None:  # the postmaster only: it ends its backends itself
        pid = self.pid()
        if pid is not None and self.returncode() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)


class RestartMetrics:
    """`sentiric_supervisor_restarts_total{child}`, written as a Prometheus text file that the API's
    /metrics appends (the supervisor serves no port of its own)."""

    def __init__(self, path: Path, names: list[str]) -> None:
        from prometheus_client import CollectorRegistry, Counter

        self.path = path
        self.registry = CollectorRegistry()
        self.counter = Counter(
            "sentiric_supervisor_restarts",
            "Children restarted by sentiric up",
            ["child"],
            registry=self.registry,
        )
        for name in names:
            self.counter.labels(name)
        self.write()

    def inc(self, name: str) -> None:
        self.counter.labels(name).inc()
        self.write()

    def write(self) -> None:
        from prometheus_client import write_to_textfile

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(self.path), self.registry)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def available_processes(plugins: Registry | None = None) -> list[str]:
    """The processes whose plug-ins are installed (each registers itself: `sentiric.plugins`)."""
    installed = (registry() if plugins is None else plugins).processes
    return [p for p in PROCESSES if p in installed]


class Supervisor:
    def __init__(self, settings: Settings, children: list[Child], run_file: RunFile) -> None:
        self.settings = settings
        self.children = children
        self.run_file = run_file
        self.stopping = asyncio.Event()
        self.failed: str | None = None
        self.metrics = RestartMetrics(settings.data_dir / METRICS_FILE, [c.name for c in children])

    def record(self) -> None:
        self.run_file.write([(c.name, pid) for c in self.children if (pid := c.pid()) is not None])

    def backoff(self, child: Child) -> float:
        return float(min(2 ** (len(child.starts) - 1), self.settings.up_restart_backoff_max_s))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), seconds)

    async def keep(self, child: Child) -> None:
        """Restart `child` whenever it exits, until the platform stops."""
        while True:
            code = await child.wait()
            if self.stopping.is_set():
                return
            log.error("process exited", process=child.name, code=code)
            died = time.monotonic()
            while True:
                if child.crash_looping:
                    log.error("process keeps failing, stopping the platform", process=child.name)
                    self.failed = child.name
                    self.stopping.set()
                    return
                delay = self.backoff(child)
                log.warning("restarting process", process=child.name, backoff_s=delay)
                await self._pause(delay)
                if self.stopping.is_set():
                    return
                try:
                    await child.spawn()
                except Exception as exc:  # BrokerError, DatabaseError, OSError: try again after backoff
                    log.error("restart failed", process=child.name, error=str(exc).splitlines()[0])
                    self.record()
                    child.kill()
                    continue
                break
            self.metrics.inc(child.name)
            self.record()
            log.warning(
                "process restarted",
                process=child.name,
                pid=child.pid(),
                down_s=round(time.monotonic() - died, 2),
                restarts=int(self.metrics.counter.labels(child.name)._value.get()),
            )

    async def watch(self, child: Child) -> None:
        """Liveness: a child that answered once since its start and then stops answering for
        `up_liveness_grace_s` is killed (and so restarted by `keep`)."""
        grace = self.settings.up_liveness_grace_s
        seen: int | None = None  # the generation that answered
        silent_since: float | None = None
        while not self.stopping.is_set():
            await self._pause(LIVENESS_INTERVAL_S)
            if self.stopping.is_set() or not child.running:
                silent_since = None
                continue
            generation = child.generation
            ok = await child.answers()
            if ok is None or generation != child.generation:
                continue
            if ok:
                seen, silent_since = generation, None
                continue
            if seen != generation:
                continue  # still starting: a start that never answers fails in `spawn` or by exiting
            now = time.monotonic()
            silent_since = silent_since or now
            if now - silent_since >= grace:
                log.error("process alive but not answering, killing it", process=child.name, pid=child.pid(),
                          silent_s=round(now - silent_since, 1))  # fmt: skip
                child.kill()
                silent_since = None

    async def shutdown(self) -> None:
        """Everything down within `up_stop_timeout_s`: processes, then brokers and PostgreSQL."""
        began = time.monotonic()
        total = self.settings.up_stop_timeout_s
        apps = [c for c in self.children if not c.infra]
        infra = [c for c in self.children if c.infra]
        await self._stop_group(apps, began + total * 2 / 3)
        await self._stop_group(infra, began + total - 0.5)
        log.info("everything stopped", took_s=round(time.monotonic() - began, 2))

    async def _stop_group(self, group: list[Child], deadline: float) -> None:
        live = [c for c in group if c.running]
        for child in live:
            child.terminate()
        while any(c.running for c in live) and time.monotonic() < deadline:  # noqa: ASYNC110 - Popens too
            await asyncio.sleep(0.1)
        for child in live:
            clean = not child.running
            if not clean:
                log.warning("process did not stop in time, killing", process=child.name, pid=child.pid())
                child.kill()
                kill_deadline = time.monotonic() + 2.0
                while child.running and time.monotonic() < kill_deadline:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            child.after_stop(clean)
            log.info("process stopped", process=child.name, code=child.returncode())

    async def run(self, announce: Any) -> int:
        for sig in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(sig, self.stopping.set)
        tasks: list[asyncio.Task[None]] = []
        try:
            for child in self.children:
                if not child.running:
                    await child.spawn()
                self.record()
            tasks = [asyncio.create_task(self.keep(c)) for c in self.children]
            tasks += [asyncio.create_task(self.watch(c)) for c in self.children]
            tasks.append(asyncio.create_task(announce()))
            await self.stopping.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.shutdown()
            self.metrics.remove()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().remove_signal_handler(sig)
        return 1 if self.failed else 0


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


async def _worker_serving(settings: Settings) -> bool:
    """Joined, and serving by the worker's own probe (`streams.cli.serving`: its heartbeats cover every
    call partition, so the edge admits agent calls now)."""
    if not await _worker_joined(settings):
        return False
    probe = registry().processes["worker"].ready
    if probe is None:
        return True
    try:
        return await probe(settings)
    except Exception:  # the topic may not exist yet, the broker may be starting: not ready
        return False


@dataclass(frozen=True)
class EdgeSlot:
    """What makes edge i of N its own: node id (and so its command topic), ports, a slice of the RTP
    range. Edge 1 keeps the configured values; edge i adds `(i-1) * up_edge_port_stride` to each port."""

    node_id: str
    sip_port: int
    sip_tls_port: int
    ws_port: int
    grpc_port: int
    metrics_port: int
    rtp_min: int
    rtp_max: int

    def env(self) -> dict[str, str]:
        return {
            "SENTIRIC_NODE_ID": self.node_id,
            "SENTIRIC_SIP_PORT": str(self.sip_port),
            "SENTIRIC_SIP_TLS_PORT": str(self.sip_tls_port),
            "SENTIRIC_WS_PORT": str(self.ws_port),
            "SENTIRIC_GRPC_PORT": str(self.grpc_port),
            "SENTIRIC_EDGE_METRICS_PORT": str(self.metrics_port),
            "SENTIRIC_RTP_PORT_MIN": str(self.rtp_min),
            "SENTIRIC_RTP_PORT_MAX": str(self.rtp_max),
        }


def edge_slots(settings: Settings, count: int) -> list[EdgeSlot]:
    if count == 1:
        ports = (
            settings.sip_port,
            settings.sip_tls_port,
            settings.ws_port,
            settings.grpc_port,
            settings.edge_metrics_port,
        )
        return [EdgeSlot(settings.node_id, *ports, settings.rtp_port_min, settings.rtp_port_max)]
    stride = settings.up_edge_port_stride
    share = (settings.rtp_port_max - settings.rtp_port_min + 1) // count
    share -= share % 2  # RTP on even ports, RTCP on the odd one above: keep each slice even-aligned
    if share < 2:
        raise ValueError(
            f"the RTP range {settings.rtp_port_min}-{settings.rtp_port_max} is too small for {count} edges"
        )
    slots = []
    for i in range(count):
        low = settings.rtp_port_min + i * share
        slots.append(
            EdgeSlot(
                f"edge-{i + 1}" if settings.node_id == "edge-1" else f"{settings.node_id}-{i + 1}",
                settings.sip_port + i * stride,
                settings.sip_tls_port + i * stride,
                settings.ws_port + i * stride,
                settings.grpc_port + i * stride,
                settings.edge_metrics_port + i * stride,
                low,
                low + share - 1,
            )
        )
    return slots


async def wait_ready(settings: Settings, names: list[str], edges: list[EdgeSlot] | None = None) -> bool:
    """Until every started process serves: SIP answers OPTIONS, the API is healthy, the workers'
    heartbeats cover every call partition."""
    checks: dict[str, Any] = {}
    if "edge" in names:
        for slot in edges or edge_slots(settings, 1):
            checks[slot.node_id] = lambda port=slot.sip_port: _sip_answers(settings.sip_host, port)
    if "api" in names:
        checks["api"] = lambda: _api_answers(settings)
    if "worker" in names:
        checks["worker"] = lambda: _worker_serving(settings)
    pending = list(checks)
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


def sample_action_url(settings: Settings) -> str:
    """The sample booking endpoint on this machine's API (`projections.api.sample`)."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    host = f"[{host}]" if ":" in host else host
    return f"{_api_scheme(settings)}://{host}:{settings.api_port}/api/sample/bookings"


def banner(settings: Settings, names: list[str], edges: list[EdgeSlot] | None = None) -> str:
    lines = [f"Sentiric is up (log {settings.bootstrap_servers}):"]
    if "edge" in names:
        ws = "wss" if settings.api_tls else "ws"
        for slot in edges or edge_slots(settings, 1):
            who = f" ({slot.node_id})" if edges and len(edges) > 1 else ""
            lines.append(f"  SIP        sip:agent@{settings.sip_host}:{slot.sip_port} (UDP and TCP){who}")
            if settings.sip_tls:
                lines.append(f"  SIP-TLS    sips:agent@{settings.sip_host}:{slot.sip_tls_port}{who}")
            lines.append(f"  WebSocket  {ws}://{settings.sip_host}:{slot.ws_port}/ws{who}")
    if "api" in names:
        base = f"{_api_scheme(settings)}://{settings.api_host}:{settings.api_port}"
        lines.append(f"  Dashboard  {base}/    talk in the browser: {base}/talk    API docs: {base}/docs")
    lines.append("  Ctrl-C stops everything.")
    return "\n".join(lines)


async def _prepare_log(settings: Settings, node_ids: tuple[str, ...]) -> None:
    await prepare_topics(settings, node_ids=node_ids)


def _process_children(
    settings: Settings, names: list[str], env: dict[str, str], edges: list[EdgeSlot], workers: int
) -> list[Child]:
    python = [sys.executable, "-m", "sentiric.cli"]
    children: list[Child] = []
    if "edge" in names:
        for slot in edges:
            name = "edge" if len(edges) == 1 else slot.node_id
            children.append(
                ProcessChild(
                    name,
                    argv=[*python, "edge"],
                    env={**env, **slot.env()},
                    probe=lambda port=slot.sip_port: _sip_answers(settings.sip_host, port),
                )
            )
    if "worker" in names:
        for i in range(workers):
            name = "worker" if workers == 1 else f"worker-{i + 1}"
            children.append(ProcessChild(name, argv=[*python, "worker"], env=env))
    if "api" in names:
        children.append(
            ProcessChild("api", argv=[*python, "api"], env=env, probe=lambda: _api_alive(settings))
        )
    return children


async def _api_alive(settings: Settings) -> bool:
    """The API answers HTTP at all (a 503 from /healthz means a dependency is down, not the API)."""
    import httpx

    try:
        async with httpx.AsyncClient(timeout=3) as client:
            await client.get(f"http://{settings.api_host}:{settings.api_port}/healthz")
            return True
    except httpx.HTTPError:
        return False


def up(args: argparse.Namespace) -> int:
    from sentiric.broker.cluster import local_broker
    from sentiric.broker.local_kafka import BrokerError
    from sentiric.database import DatabaseError, EmbeddedPostgres
    from sentiric.eventlog.connection import require_access
    from sentiric.exposure import default_token_refusal

    settings = get_settings()
    if not available_processes():
        print(
            "sentiric up: no process is installed (the edge, worker and api plug-ins, sentiric.plugins):"
            " reinstall the package (pip install -e .)",
            file=sys.stderr,
        )
        return 2
    names = [n for n in available_processes() if not args.only or n in args.only]
    binds = {"the API": settings.api_host} if "api" in names else {}
    if "edge" in names:  # the edge's /ws gateway and gRPC MediaService listen on sip_host
        binds["the edge's /ws and gRPC"] = settings.sip_host
    refusal = default_token_refusal(settings, binds)
    for name in names:  # each process's own refusal (the edge's: SIP open beyond loopback)
        check = registry().processes[name].refusal
        if refusal is None and check is not None:
            refusal = check(settings)
    if refusal is not None:
        print(f"sentiric up: {refusal}", file=sys.stderr)
        return 2
    try:
        edges = edge_slots(settings, args.edges)
    except ValueError as exc:
        print(f"sentiric up: {exc}", file=sys.stderr)
        return 2
    run_file = RunFile(settings.data_dir / RUN_FILE)
    other = run_file.running_owner()
    if other is not None:
        print(f"sentiric up: another sentiric up (pid {other}) runs with {settings.home}", file=sys.stderr)
        return 1
    for stale in run_file.clean_stale():
        print(f"ended {stale.name} (pid {stale.pid}), left running by an earlier sentiric up", flush=True)
    env = dict(os.environ)
    if "api" in names and settings.sample_action_url is None:  # the sample business books through it
        env["SENTIRIC_SAMPLE_ACTION_URL"] = sample_action_url(settings)
    kafka = local_broker(settings)  # one node, or SENTIRIC_KAFKA_NODES of them
    postgres = EmbeddedPostgres(settings)
    infra: list[Child] = []
    started: list[Any] = []
    try:
        if settings.embedded_kafka:
            print(f"starting the local Kafka on {kafka.bootstrap} (data in {kafka.data_dir})", flush=True)
            if not kafka.status().running:
                started.append(kafka)
                nodes = getattr(kafka, "nodes", [kafka])
                for n in nodes:
                    name = f"kafka-{n.node_id}" if len(nodes) > 1 else "kafka"
                    infra.append(BrokerNodeChild(name, infra=True, node=n))
            kafka.start(detach=False)  # on the main thread: see BrokerNodeChild
        env.update(kafka.client_env())  # bootstrap, replication and, for SASL_SSL, CA and credentials
        require_access(settings)  # wrong credentials or CA: one line (sentiric.cli), not five crash loops
        if settings.database_url is None:
            print(f"starting the embedded PostgreSQL (data in {postgres.pgdata})", flush=True)
            current = postgres.status()
            if current.running:  # not ours (started by hand): used, not supervised
                env["SENTIRIC_DATABASE_URL"] = postgres.dsn(current.port)
            else:
                postgres.init()
                infra.append(PostgresChild("postgres", infra=True, postgres=postgres))
                env["SENTIRIC_DATABASE_URL"] = postgres.dsn()
        asyncio.run(_prepare_log(settings, tuple(s.node_id for s in edges)))
        children = infra + _process_children(settings, names, env, edges, args.workers)
        print(f"starting {', '.join(c.name for c in children)}; the addresses follow once all of them serve",
              flush=True)  # fmt: skip

        async def announce() -> None:
            if await wait_ready(settings, names, edges):
                print(banner(settings, names, edges), flush=True)

        async def main() -> int:
            supervisor = Supervisor(settings, children, run_file)
            code = await supervisor.run(announce)
            if supervisor.failed:
                print(f"sentiric up: {supervisor.failed} keeps failing; stopped", file=sys.stderr)
            return code

        return asyncio.run(main())
    except (BrokerError, DatabaseError) as exc:
        print(f"sentiric up: {exc}", file=sys.stderr)
        return 1
    finally:
        for service in reversed(started):
            service.stop()  # a no-op once the supervisor stopped it
        run_file.remove()


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("up", help="run the whole platform on embedded defaults")
    parser.add_argument("--only", nargs="+", choices=PROCESSES, help="run only these processes")
    parser.add_argument("--edges", type=int, default=1, help="edges to run (each its own node id and ports)")
    parser.add_argument("--workers", type=int, default=1, help="streams workers to run (one consumer group)")
    parser.set_defaults(func=up)
