"""`sentiric up` as a newcomer runs it: the whole platform on embedded defaults, then Ctrl-C.

Everything on free ports under a private home; a real SIP call with sipp; the call's facts read back
with `sentiric replay call`; SIGINT stops every process and frees every port.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sentiric.net import free_port, free_rtp_range

from .test_replay import run_cli

ROOT = Path(__file__).parents[3]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def platform(tmp_path, machine_cache_dir):
    rtp, _ = free_rtp_range(40)
    ports = {
        "SENTIRIC_KAFKA_PORT": free_port(),
        "SENTIRIC_KAFKA_CONTROLLER_PORT": free_port(),
        "SENTIRIC_POSTGRES_PORT": free_port(),
        "SENTIRIC_SIP_PORT": free_port(socket.SOCK_DGRAM),
        "SENTIRIC_API_PORT": free_port(),
        "SENTIRIC_WS_PORT": free_port(),
        "SENTIRIC_GRPC_PORT": free_port(),
        "SENTIRIC_EDGE_METRICS_PORT": free_port(),
        "SENTIRIC_RTP_PORT_MIN": rtp,
        "SENTIRIC_RTP_PORT_MAX": rtp + 38,
    }
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"sentiric-up-{os.getpid()}-{time.monotonic_ns()}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        **{k: str(v) for k, v in ports.items()},
        "SENTIRIC_HOME": str(home),
        "SENTIRIC_CACHE_HOME": str(machine_cache_dir),
    }
    log = (tmp_path / "up.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentiric.cli", "up"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc, ports, tmp_path / "up.log"
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()
        subprocess.run(["rm", "-rf", str(home)], check=False)


def wait_healthy(api_port: int, proc: subprocess.Popen, log: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"sentiric up exited early:\n{log.read_text()[-4000:]}"
        try:
            r = httpx.get(f"http://127.0.0.1:{api_port}/healthz", timeout=2)
            if r.status_code == 200:
                return r.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"the API never became healthy:\n{log.read_text()[-4000:]}")


def test_up_runs_the_whole_platform_and_ctrl_c_stops_it(platform):
    proc, ports, log = platform
    health = wait_healthy(ports["SENTIRIC_API_PORT"], proc, log)
    assert health == {"status": "ok", "database": True, "broker": True}
    deadline = time.monotonic() + 180
    while "Sentiric is up" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(0.5)

    # A real call from sipp: INVITE / 200 / ACK, a few seconds of call, BYE.
    sipp = subprocess.run(
        [
            "sipp", "-sn", "uac", f"127.0.0.1:{ports['SENTIRIC_SIP_PORT']}", "-i", "127.0.0.1",
            "-p", str(free_port(socket.SOCK_DGRAM)), "-m", "1", "-d", "3000", "-timeout", "60", "-nostdin",
        ],
        capture_output=True, text=True, timeout=90, cwd=log.parent,
    )  # fmt: skip
    assert sipp.returncode == 0, sipp.stdout[-2000:] + sipp.stderr[-2000:]

    kafka = f"127.0.0.1:{ports['SENTIRIC_KAFKA_PORT']}"
    tail = subprocess.run(
        [sys.executable, "-m", "sentiric.cli", "replay", "tail", "--from-beginning", "--json",
         "--limit", "1"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "SENTIRIC_KAFKA_BOOTSTRAP": kafka},
    )  # fmt: skip
    call_id = re.search(r'"call_id":"([0-9a-f-]+)"', tail.stdout).group(1)
    deadline = time.monotonic() + 60
    while True:
        timeline = run_cli(kafka, "replay", "call", call_id)
        if "MediaPortReleased" in timeline.stdout or time.monotonic() > deadline:
            break
        time.sleep(1)
    kinds = [line.split()[3] for line in timeline.stdout.splitlines()]
    for expected in (
        "CallInviteReceived",
        "CallAnswered",
        "CallEstablished",
        "CallEnded",
        "MediaPortReleased",
    ):
        assert expected in kinds, timeline.stdout
    # The worker greeted the caller: the dialog ran on the same platform.
    assert "DialogStateChanged" in kinds and "PlayAudio" in kinds, timeline.stdout

    proc.send_signal(signal.SIGINT)
    assert proc.wait(90) == 0, log.read_text()[-4000:]
    text = log.read_text()
    for name in ("edge", "worker", "api"):
        assert re.search(rf"process stopped .*process={name}", text), text[-3000:]
    for key in ("SENTIRIC_KAFKA_PORT", "SENTIRIC_POSTGRES_PORT", "SENTIRIC_API_PORT", "SENTIRIC_WS_PORT"):
        assert not port_open(ports[key]), f"{key} still open after Ctrl-C"
