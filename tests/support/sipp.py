"""Driving sipp (Debian ``sip-tester``) against a running edge: for the integration tests and the bench.

Every run is bounded (``-m`` calls, ``-timeout``, a subprocess deadline), uses free ports on
127.0.0.1 and returns sipp's exit code with its statistics CSV (``-trace_stat``).
"""

from __future__ import annotations

import asyncio
import csv
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentiric.net import free_port, free_port_for_both, free_rtp_range

SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "sipp"
SIPP = "/usr/bin/sipp"


def free_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)


# sipp places every call from one source (127.0.0.1), up to hundreds per second in the benchmarks, so
# the edge's per-source limits (edge.uas.ratelimit, the per-source call cap, TCP connections per source)
# are raised for tests and benchmarks here, explicitly. The hostile-input tests put the production
# defaults back (SOURCE_LIMIT_SETTINGS) to attack them.
RAISED_SOURCE_LIMITS: dict[str, Any] = {
    "sip_rate_invite": 2000.0,
    "sip_rate_invite_burst": 4000.0,
    "sip_rate_register": 2000.0,
    "sip_rate_register_burst": 4000.0,
    "sip_rate_options": 2000.0,
    "sip_rate_options_burst": 4000.0,
    "sip_max_calls_per_source": 0,
    "sip_tcp_max_per_source": 1024,
}
SOURCE_LIMIT_SETTINGS = (*RAISED_SOURCE_LIMITS, "sip_auth_fail_limit", "sip_max_udp_bytes")


def production_source_limits() -> dict[str, Any]:
    """The per-source settings at their shipped defaults (for tests that attack them)."""
    from sentiric.settings import Settings

    return {name: Settings.model_fields[name].default for name in SOURCE_LIMIT_SETTINGS}


def edge_settings(kafka: str, home: Path, **overrides: Any) -> Any:
    from sentiric.settings import Settings

    low, high = free_rtp_range()
    values: dict[str, Any] = {
        "kafka_bootstrap": kafka,
        "home": home,
        "node_id": f"edge-it-{uuid.uuid4().hex[:8]}",
        "sip_port": 0,
        "rtp_port_min": low,
        "rtp_port_max": high,
        "rtp_port_quarantine_s": 1.0,
        "edge_metrics_port": 0,
        "ws_port": 0,
        "grpc_port": 0,
        "sip_t1_ms": 100,
        "media_timeout_s": 120.0,
        "topic_partitions": 3,
        # An edge on its own (SIP tests and benches): no dialog worker will ever heartbeat, so the
        # worker check is off. Stacks with a worker (tests/integration/e2e) turn it back on.
        "require_worker": False,
        **RAISED_SOURCE_LIMITS,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    stats: list[dict[str, str]]

    def last(self, field: str) -> int:
        return int(self.stats[-1][field]) if self.stats else -1

    def describe(self) -> str:
        return f"sipp rc={self.returncode}\n{self.stderr[-2000:]}\n{self.stdout[-2000:]}"


async def run_sipp(
    edge_port: int,
    workdir: Path,
    *,
    local_ip: str = "127.0.0.1",
    scenario: str | None = "uac",
    service: str = "1000",
    calls: int = 1,
    rate: float = 10,
    timeout_s: float = 60,
    extra: list[str] | None = None,
    local_port: int | None = None,
) -> SippResult:
    """Run sipp once, bounded by ``-m`` and ``-timeout``; returns its exit code and stats CSV.
    ``local_port``: sipp's signalling port (a UAS the edge calls must be found there); default free."""
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test helper, before sipp starts
    stats = workdir / f"stats-{uuid.uuid4().hex[:6]}.csv"
    # The signalling port must be free on TCP too: with `-t t1` sipp binds it as a TCP socket.
    port = local_port or free_port_for_both(host=local_ip)
    args = [SIPP, f"127.0.0.1:{edge_port}", "-i", local_ip, "-p", str(port)]
    args += ["-mp", str(free_port(socket.SOCK_DGRAM, local_ip)), "-s", service]
    args += ["-m", str(calls), "-r", str(rate)]
    args += ["-timeout", str(int(timeout_s)), "-timeout_error", "-nostdin", "-max_retrans", "3"]
    args += [
        "-trace_stat",
        "-stf",
        str(stats),
        "-fd",
        "1",
        "-trace_err",
        "-error_file",
        str(workdir / "err.log"),
    ]
    if scenario and scenario.endswith(".xml"):
        args += ["-sf", str(SCENARIOS / scenario)]
    elif scenario:
        args += ["-sn", scenario]
    args += extra or []
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=workdir
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s + 15)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
    rows: list[dict[str, str]] = []
    if stats.exists():
        with stats.open() as fh:
            rows = list(csv.DictReader(fh, delimiter=";"))
    return SippResult(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"), rows)
