"""`sentiric up --edges 2`: two edges, each its own node id, SIP port and command topic. Calls on both
are in /api/calls, and the dialog's commands for each call reach the edge that carries it."""

from __future__ import annotations

import socket
import time

from sentiric.eventlog.topics import commands_topic
from sentiric.net import free_port, port_free

from .platform import default_ports, sentiric_up
from .supervision import facts, finished, sipp, wait_calls

STRIDE = 10  # the default up_edge_port_stride


def port_with_room(kind: int) -> int:
    """A free port whose +STRIDE neighbour (edge 2's) is free too."""
    for _ in range(200):
        port = free_port(kind)
        if port + STRIDE < 65536 and _free(port + STRIDE, kind):
            return port
    raise AssertionError("no free port pair")


def _free(port: int, kind: int) -> bool:
    if kind == socket.SOCK_STREAM:
        return port_free(port)
    with socket.socket(socket.AF_INET, kind) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return port_free(port)  # SIP listens on TCP too


def test_two_edges_carry_calls_listed_together_each_getting_its_own_commands(tmp_path, machine_cache_dir):
    ports = default_ports()
    ports["SENTIRIC_SIP_PORT"] = port_with_room(socket.SOCK_DGRAM)
    for key in ("SENTIRIC_WS_PORT", "SENTIRIC_GRPC_PORT", "SENTIRIC_EDGE_METRICS_PORT"):
        ports[key] = port_with_room(socket.SOCK_STREAM)
    with sentiric_up(tmp_path, machine_cache_dir, ports=ports, args=("--edges", "2")) as platform:
        platform.wait_up()
        text = platform.log.read_text()
        assert "(edge-1)" in text and "(edge-2)" in text, platform.tail()
        sip = ports["SENTIRIC_SIP_PORT"]
        calls = [sipp(platform, tmp_path, duration_ms=6000, port=p) for p in (sip, sip + STRIDE)]
        for call in calls:
            finished(call)
        rows = wait_calls(platform, 2)
        nodes = set()
        for row in rows:
            deadline = time.monotonic() + 60
            while True:
                records = facts(platform, row["call_id"], commands=True)
                kinds = {r["type"] for r in records}
                if "PlaybackStarted" in kinds or time.monotonic() > deadline:
                    break
                time.sleep(1)
            node = next(r["source"] for r in records if r["type"] == "CallInviteReceived")
            nodes.add(node)
            plays = [r for r in records if r["type"] == "PlayAudio"]
            assert plays, kinds
            assert {r["log"]["topic"] for r in plays} == {commands_topic(node)}  # its own command topic
            started = [r for r in records if r["type"] == "PlaybackStarted"]
            assert started and {r["source"] for r in started} == {node}  # carried out by that edge
        assert nodes == {"edge-1", "edge-2"}
