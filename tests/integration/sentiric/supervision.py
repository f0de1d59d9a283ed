"""Helpers of the supervision tests: sipp calls, the run file's children, the calls' facts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from sentiric.net import free_port
from sentiric.processes import RunFile, alive

from .platform import Platform
from .test_replay import run_cli


def sipp(platform: Platform, cwd: Path, *, calls: int = 1, duration_ms: int = 3000, port: int | None = None,
         rate: float = 1.0) -> subprocess.Popen[str]:  # fmt: skip
    """Place `calls` calls with sipp's built-in UAC (INVITE, 200, ACK, hold `duration_ms`, BYE)."""
    sip_port = port or platform.ports["SENTIRIC_SIP_PORT"]
    return subprocess.Popen(
        [
            "sipp", "-sn", "uac", f"127.0.0.1:{sip_port}", "-i", "127.0.0.1",
            "-p", str(free_port(socket.SOCK_DGRAM)), "-m", str(calls), "-r", str(rate),
            "-d", str(duration_ms), "-timeout", "120", "-nostdin",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=cwd,
    )  # fmt: skip


def finished(proc: subprocess.Popen[str], timeout: float = 180) -> None:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]


def children(platform: Platform) -> dict[str, int]:
    """name -> pid of every child `sentiric up` runs now (its run file)."""
    _owner, rows = RunFile(platform.data_dir / "up.run.json").read()
    return {r.name: r.pid for r in rows}


def recorded(platform: Platform) -> list[Any]:
    return RunFile(platform.data_dir / "up.run.json").read()[1]


def api_calls(platform: Platform) -> list[dict[str, Any]]:
    r = platform.get("/api/calls", limit=200)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def wait_calls(
    platform: Platform, count: int, *, timeout: float = 180, done: bool = True
) -> list[dict[str, Any]]:
    """Until /api/calls lists `count` calls, each finished (or answered when not `done`)."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            rows = api_calls(platform)
        except Exception:  # the API may be restarting or waiting for its database
            rows = []
        key = "finished_at" if done else "answered_at"
        if len(rows) >= count and all(r[key] is not None for r in rows):
            return rows
        time.sleep(1)
    raise AssertionError(f"{len(rows)} calls of {count} in /api/calls: {rows}\n{platform.tail()}")


def facts(platform: Platform, call_id: str, *, commands: bool = False) -> list[dict[str, Any]]:
    args = ["replay", "call", call_id, "--json"] + ([] if commands else ["--facts-only"])
    out = run_cli(platform.kafka, *args).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def kinds(records: list[dict[str, Any]]) -> list[str]:
    return [str(r.get("type") or r.get("event_type") or r.get("kind")) for r in records]


def wait_gone(pids: list[int], started: dict[int, int | None], timeout: float) -> float:
    """Seconds until every pid has exited (or AssertionError naming the survivors)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if not any(alive(p, started.get(p)) for p in pids):
            return time.monotonic() - began
        time.sleep(0.1)
    left = [p for p in pids if alive(p, started.get(p))]
    raise AssertionError(f"still running {timeout} s later: {left}")


def stop_group(pid: int) -> None:
    os.killpg(pid, signal.SIGSTOP)


def continue_group(pid: int) -> None:
    os.killpg(pid, signal.SIGCONT)


def metric(platform: Platform, name: str, **labels: str) -> float | None:
    text = platform.get("/metrics").text
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in text.splitlines():
        if line.startswith(want + " "):
            return float(line.split()[1])
    return None
