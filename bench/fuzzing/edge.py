"""The edge under test: its own process (``sentiric edge``) on a private local Kafka, its log, its RSS.

A separate process so that a crash is seen (it exits) and the fuzzer's CPU does not hide the edge's.
Its stderr goes to a file in JSON (``SENTIRIC_ENV=production``); ``LogWatch`` tails it and sorts every
ERROR/CRITICAL line and every traceback — structlog's JSON lines and the standard library's plain
``LEVEL:logger:message`` lines (asyncio's loop exception handler, websockets' handler failures) alike.

Settings reach the edge as ``SENTIRIC_*`` variables; ``Settings`` ignores names it does not know, so
the campaign can raise protections that later versions of the edge add.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sentiric.broker.local_kafka import LocalKafka
from sentiric.net import free_port, free_port_for_both, free_rtp_range
from sentiric.settings import Settings

READY = "edge ready"
_DIGITS = re.compile(r"\d+")
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'")
_PLAIN = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL):")  # logging.basicConfig's format
# Log messages that mean an exception escaped to a handler of last resort, even without a traceback.
CRASH_MESSAGES = (
    "SIP message handling failed",
    "SIP timer handling failed",
    "call setup failed",
    "media session tick failed",
    "media session did not open",
    "media session did not close cleanly",
    "connection handler failed",  # websockets: the /ws handler raised
    "Exception in callback",  # asyncio's loop exception handler
    "Task exception was never retrieved",
    "Unhandled error in exception handler",
)


def machine_cache() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiric"


def provision_kafka() -> None:
    """Fetch the Kafka jars into the machine cache (before entering a network namespace without routes)."""
    LocalKafka(Settings(home=Path("/nonexistent"), cache_home=machine_cache())).provision()


@dataclass
class LogRecord:
    level: str
    message: str
    text: str  # the whole record as logged, traceback included
    at: float  # when the watcher read it (time.time())

    @property
    def is_crash(self) -> bool:
        return "Traceback" in self.text or any(m in self.message for m in CRASH_MESSAGES)

    @property
    def signature(self) -> str:
        """What kind of error this is: the message and the exception's last line, quoted values and digits
        folded, so one bug repeated (with another address, port, character, position) is one signature."""
        text = self.text
        if self.text.startswith("{"):
            with contextlib.suppress(ValueError):
                obj = json.loads(self.text.splitlines()[0])
                text = str(obj.get("exception") or obj.get("error") or "")
        lines = [ln for ln in text.strip().splitlines() if ln.strip()]
        last = lines[-1].strip() if lines and lines[-1] != self.text.strip() else ""
        last = _QUOTED.sub("'…'", last)  # the address, character or value that differs each time
        return _DIGITS.sub("#", f"{self.message} | {last}")[:240]


@dataclass
class Signature:
    first: LogRecord
    count: int = 0


@dataclass
class LogWatch:
    """Tails the edge's log file in a thread; counts records by level and message, and ERROR/CRITICAL
    records by signature (the first of each kept whole)."""

    path: Path
    signatures: dict[str, Signature] = field(default_factory=dict)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    lines: int = 0
    errors: int = 0  # ERROR and CRITICAL records
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    ready: threading.Event = field(default_factory=threading.Event)

    @property
    def distinct(self) -> int:
        return len(self.signatures)

    def crashes(self) -> list[Signature]:
        with self._lock:
            return [s for s in self.signatures.values() if s.first.is_crash]

    def snapshot(self) -> dict[str, Signature]:
        with self._lock:
            return dict(self.signatures)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="edge-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self.path.exists() and not self._stop.is_set():
            time.sleep(0.05)
        pending: list[str] = []  # a plain record and its traceback lines
        partial, idle = "", 0
        with self.path.open("r", encoding="utf-8", errors="replace") as fh:
            while True:
                chunk = fh.readline()
                if not chunk.endswith("\n"):  # nothing new, or a line still being written
                    partial += chunk
                    idle += 1
                    if pending and idle >= 4:  # a traceback is complete once the writer pauses
                        self._plain(pending)
                        pending = []
                    if self._stop.is_set():
                        if pending:
                            self._plain(pending)
                        return
                    time.sleep(0.05)
                    continue
                line, partial, idle = partial + chunk, "", 0
                self.lines += 1
                starts = line.startswith("{") or _PLAIN.match(line) is not None
                if starts or not pending:
                    if pending:
                        self._plain(pending)
                    pending = []
                    if line.startswith("{"):
                        self._json(line)
                        continue
                pending.append(line)  # a plain record, or its traceback's next line

    def _json(self, line: str) -> None:
        try:
            obj: dict[str, Any] = json.loads(line)
        except ValueError:
            return self._plain([line])
        level = str(obj.get("level", "info")).upper()
        message = str(obj.get("message") or obj.get("event") or "")
        if message == READY:
            self.ready.set()
        self._add(level, message, line)

    def _plain(self, lines: list[str]) -> None:
        first = lines[0]
        level, _, rest = first.partition(":")
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            level, rest = ("ERROR" if "Traceback" in "".join(lines) else "OUTPUT"), first
        self._add(level, rest.strip()[:200], "".join(lines))

    def _add(self, level: str, message: str, text: str) -> None:
        level = "ERROR" if level in ("EXCEPTION", "ERROR") else level
        with self._lock:
            self.counts[(level, message[:120])] += 1
            if level in ("ERROR", "CRITICAL"):
                self.errors += 1
                record = LogRecord(level, message, text, time.time())
                entry = self.signatures.setdefault(record.signature, Signature(record))
                entry.count += 1


@dataclass(frozen=True)
class EdgePorts:
    sip: int
    ws: int
    grpc: int
    metrics: int
    rtp_min: int
    rtp_max: int


class EdgeUnderTest:
    """A local Kafka and ``sentiric edge`` on free ports under ``workdir``; ``stop`` ends both."""

    def __init__(self, workdir: Path, overrides: dict[str, str], token: str) -> None:
        self.workdir = workdir
        self.overrides = overrides
        self.token = token
        self.log_path = workdir / "edge.log"
        self.watch = LogWatch(self.log_path)
        self.broker: LocalKafka | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        low, high = free_rtp_range(1000)
        self.ports = EdgePorts(free_port_for_both(), free_port(), free_port(), free_port(), low, high)

    def env(self, bootstrap: str) -> dict[str, str]:
        p = self.ports
        env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")}
        env.update(
            {
                "SENTIRIC_ENV": "production",
                "SENTIRIC_LOG_LEVEL": "INFO",
                "SENTIRIC_HOME": str(self.workdir / "edge-home"),
                "SENTIRIC_KAFKA_BOOTSTRAP": bootstrap,
                "SENTIRIC_NODE_ID": "edge-fuzz",
                "SENTIRIC_TOPIC_PARTITIONS": "3",
                "SENTIRIC_SIP_HOST": "127.0.0.1",
                "SENTIRIC_SIP_PORT": str(p.sip),
                "SENTIRIC_WS_PORT": str(p.ws),
                "SENTIRIC_GRPC_PORT": str(p.grpc),
                "SENTIRIC_EDGE_METRICS_PORT": str(p.metrics),
                "SENTIRIC_RTP_HOST": "127.0.0.1",
                "SENTIRIC_RTP_PORT_MIN": str(p.rtp_min),
                "SENTIRIC_RTP_PORT_MAX": str(p.rtp_max),
                "SENTIRIC_ADMIN_TOKEN": self.token,
                "SENTIRIC_REQUIRE_WORKER": "false",  # no dialog worker here: the fuzzer wants SIP answered
            }
        )
        env.update({f"SENTIRIC_{k.upper()}": v for k, v in self.overrides.items()})
        return env

    def start(self, timeout_s: float = 120.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        settings = Settings(
            home=self.workdir / "kafka",
            cache_home=machine_cache(),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
        )
        self.broker = LocalKafka(settings)
        self.broker.start(detach=False)
        self.watch.start()
        log = self.log_path.open("wb")
        command = [sys.executable, "-m", "sentiric.cli", "edge"]
        setpriv = shutil.which("setpriv")  # SIGTERM when the fuzzer dies, even by SIGKILL: no orphan edge
        self.proc = subprocess.Popen(
            [setpriv, "--pdeathsig", "TERM", "--", *command] if setpriv else command,
            env=self.env(self.broker.bootstrap),
            cwd=self.workdir,  # no sentiric.toml or .env of the caller's
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while not self.watch.ready.wait(0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"the edge did not become ready:\n{tail}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def rss(self) -> int:
        """Resident set size in bytes (``/proc/<pid>/status`` VmRSS), 0 once the edge is gone."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def cpu_s(self) -> float:
        """User + system CPU seconds of the edge process (``/proc/<pid>/stat`` utime, stime)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metrics(self) -> dict[str, float]:
        """The edge's Prometheus counters, ``name{labels}`` → value (empty when it does not answer)."""
        url = f"http://127.0.0.1:{self.ports.metrics}/metrics"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=20) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("sentiric_") and " " in line:
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    continue
        return out

    def stop(self) -> int | None:
        code = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(20)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            code = self.proc.returncode
        time.sleep(0.3)  # the last lines reach the watcher
        self.watch.stop()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        return code
