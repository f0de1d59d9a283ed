"""`SENTIRIC_KAFKA_NODES=3 SENTIRIC_KAFKA_SECURITY_PROTOCOL=SASL_SSL sentiric up`: the platform starts
its own secured three-node cluster, takes a call on it, and Ctrl-C stops every node."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sentiric.broker.cluster import free_base_ports, node_ports
from sentiric.net import free_port, free_rtp_range, port_free


def test_up_runs_the_platform_on_its_own_secured_cluster(tmp_path: Path, machine_cache_dir: Path) -> None:
    port, controller = free_base_ports(3, secure=True)
    rtp, _ = free_rtp_range(40)
    sip = free_port(socket.SOCK_DGRAM)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        "SENTIRIC_HOME": str(tmp_path / "home"),
        "SENTIRIC_CACHE_HOME": str(machine_cache_dir),
        "SENTIRIC_KAFKA_NODES": "3",
        "SENTIRIC_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SENTIRIC_KAFKA_PORT": str(port),
        "SENTIRIC_KAFKA_CONTROLLER_PORT": str(controller),
        "SENTIRIC_KAFKA_HEAP": "384m",
        "SENTIRIC_POSTGRES_PORT": str(free_port()),
        "SENTIRIC_SIP_PORT": str(sip),
        "SENTIRIC_API_PORT": str(free_port()),
        "SENTIRIC_WS_PORT": str(free_port()),
        "SENTIRIC_GRPC_PORT": str(free_port()),
        "SENTIRIC_EDGE_METRICS_PORT": str(free_port()),
        "SENTIRIC_RTP_PORT_MIN": str(rtp),
        "SENTIRIC_RTP_PORT_MAX": str(rtp + 38),
    }
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sentiric.cli", "up"], cwd=tmp_path, env=env, stdout=out, stderr=out
        )
        try:
            deadline = time.monotonic() + 300
            while "Sentiric is up" not in log.read_text(errors="replace"):
                assert proc.poll() is None, f"sentiric up exited:\n{log.read_text()[-4000:]}"
                assert time.monotonic() < deadline, log.read_text()[-4000:]
                time.sleep(0.5)
            text = log.read_text()
            bootstrap = f"127.0.0.1:{port},127.0.0.1:{port + 10},127.0.0.1:{port + 20}"
            assert f"Sentiric is up (log {bootstrap})" in text
            client_env = tmp_path / "home" / "data" / "kafka-cluster-3-sasl" / "client.env"
            assert "SENTIRIC_KAFKA_SECURITY_PROTOCOL=SASL_SSL" in client_env.read_text()

            caller = str(free_port(socket.SOCK_DGRAM))
            sipp = subprocess.run(
                ["sipp", "-sn", "uac", f"127.0.0.1:{sip}", "-i", "127.0.0.1", "-p", caller,
                 "-m", "1", "-d", "2000", "-timeout", "60", "-nostdin"],
                capture_output=True, text=True, timeout=90, cwd=tmp_path,
            )  # fmt: skip
            assert sipp.returncode == 0, sipp.stdout[-2000:] + sipp.stderr[-2000:]

            replay_env = {k: v for k, v in env.items() if k != "SENTIRIC_KAFKA_NODES"}
            replay_env |= dict(line.split("=", 1) for line in client_env.read_text().splitlines())
            tail = subprocess.run(
                [sys.executable, "-m", "sentiric.cli", "replay", "tail", "--from-beginning", "--limit", "5"],
                capture_output=True, text=True, timeout=90, env=replay_env, cwd=tmp_path,
            )  # fmt: skip
            assert tail.returncode == 0, tail.stderr[-2000:]
            assert "CallInviteReceived" in tail.stdout, tail.stdout
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    assert proc.returncode == 0, log.read_text()[-4000:]
    assert all(port_free(p) for p in node_ports(port, controller, 3, secure=True)), "a node outlived up"
