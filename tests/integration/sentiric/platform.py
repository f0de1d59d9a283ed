"""A whole `sentiric up` for tests that attack a running platform: every port free, a private home, a
known admin token; stopped with Ctrl-C (SIGINT) and removed afterwards."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from sentiric.net import free_port, free_rtp_range


@dataclass
class Platform:
    proc: subprocess.Popen[bytes]
    ports: dict[str, int]
    log: Path
    token: str
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.ports['SENTIRIC_API_PORT']}"

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.ports['SENTIRIC_KAFKA_PORT']}"

    @property
    def sip(self) -> tuple[str, int]:
        return ("127.0.0.1", self.ports["SENTIRIC_SIP_PORT"])

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(f"{self.api}{path}", params=params, headers=self.headers, timeout=10)

    def tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def wait_up(self, timeout: float = 240) -> None:
        """Until the API is healthy and `sentiric up` says every process is up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"sentiric up exited early:\n{self.tail()}"
            try:
                healthy = httpx.get(f"{self.api}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                healthy = False
            if healthy and "Sentiric is up" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.5)
        raise AssertionError(f"the platform never came up:\n{self.tail()}")

    def metric(self, name: str) -> float | None:
        """One unlabelled sample from the API's /metrics."""
        text = httpx.get(f"{self.api}/metrics", headers=self.headers, timeout=10).text
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return None


@contextmanager
def sentiric_up(
    workdir: Path,
    cache: Path,
    *,
    ports: dict[str, int] | None = None,
    home: Path | None = None,
    args: tuple[str, ...] = (),
    keep_home: bool = False,
    **env: str,
) -> Iterator[Platform]:
    """`sentiric up` (plus `args`) on free ports, or on `ports` and in `home` to start again where an
    earlier one ran."""
    ports = ports or default_ports()
    token = env.pop("SENTIRIC_ADMIN_TOKEN", None) or secrets.token_urlsafe(24)
    home = home or Path(os.environ.get("TMPDIR", "/tmp")) / f"sentiric-up-{os.getpid()}-{time.monotonic_ns()}"
    full_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        **{k: str(v) for k, v in ports.items()},
        "SENTIRIC_HOME": str(home),
        "SENTIRIC_CACHE_HOME": str(cache),
        "SENTIRIC_ADMIN_TOKEN": token,
        **env,
    }
    log_path = workdir / "up.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sentiric.cli", "up", *args],
            cwd=workdir,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield Platform(proc, ports, log_path, token, home)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(90)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if not keep_home:
                subprocess.run(["rm", "-rf", str(home)], check=False)


def default_ports() -> dict[str, int]:
    rtp, _ = free_rtp_range(60)
    return {
        "SENTIRIC_KAFKA_PORT": free_port(),
        "SENTIRIC_KAFKA_CONTROLLER_PORT": free_port(),
        "SENTIRIC_POSTGRES_PORT": free_port(),
        "SENTIRIC_SIP_PORT": free_port(socket.SOCK_DGRAM),
        "SENTIRIC_API_PORT": free_port(),
        "SENTIRIC_WS_PORT": free_port(),
        "SENTIRIC_GRPC_PORT": free_port(),
        "SENTIRIC_EDGE_METRICS_PORT": free_port(),
        "SENTIRIC_RTP_PORT_MIN": rtp,
        "SENTIRIC_RTP_PORT_MAX": rtp + 58,
    }
