"""Reflection/amplification factor of the edge: bytes it sends ÷ bytes received, per spoofable exchange.

A spoofed source (an attacker writing someone else's address into the IP header) can start an exchange
but never sees, ACKs or answers anything. This script plays each such exchange once against a real edge
(real media engine, real local Kafka, default timers: T1 = 500 ms, media timeout 30 s) and counts what
the edge sends to the spoofed address (and, for an SDP naming a third party, to that third party)
during ``--window-s`` seconds — long enough for every retransmission timer (64·T1 = 32 s for the 2xx
and for a BYE after it) to run out. Each exchange uses its own loopback address (127.0.1.N) as the
"victim", so their bytes are told apart and their per-source limits do not interact.

Exchanges:

- ``invite-sdp-foreign``  INVITE with an SDP whose c= names a third address (127.0.2.1), never ACKed
- ``invite-sdp-self``     INVITE with an SDP naming the (spoofed) source itself, never ACKed
- ``invite-no-sdp``       INVITE without SDP (late offer: the edge offers in the 200), never ACKed
- ``invite-minimal``      the smallest INVITE the edge accepts: compact header names, no SDP
- ``invite-digest``       INVITE to a number whose dialplan requires digest auth (401), never ACKed
- ``options``, ``register``  one request each
- ``in-dialog-bogus``     a BYE for a dialog that does not exist (481)
- ``invite-replay``       an INVITE the attacker sent from its own address, replayed from the victim's
                          address (another port on another IP) while the first is still unanswered
- ``rtp-same-ip``         one RTP + one RTCP packet to the open port of an unACKed call, from the
                          signalling IP but another port (the caller's IP spoofed)
- ``rtp-other-ip``        the same from an unrelated address

Run:  .venv/bin/python bench/amplification.py [--window-s 70]
Prints one row per exchange and the worst factor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import struct
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.app import EdgeApp  # noqa: E402 - after the path set-up, for running from a checkout
from sentiric.broker.local_kafka import LocalKafka  # noqa: E402
from sentiric.logs import configure  # noqa: E402
from sentiric.net import free_port  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from tests.support.sipp import edge_settings  # noqa: E402

AUTH_NUMBER = "9000"


def machine_cache() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiric"


class Sink(asyncio.DatagramProtocol):
    """A victim's socket: counts what arrives, answers nothing."""

    def __init__(self) -> None:
        self.bytes = 0
        self.packets = 0
        self.last: bytes = b""
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.bytes += len(data)
        self.packets += 1
        self.last = data


@dataclass
class Exchange:
    name: str
    sent: int = 0
    sinks: list[Sink] = field(default_factory=list)
    note: str = ""

    @property
    def received(self) -> int:
        return sum(s.bytes for s in self.sinks)

    @property
    def packets(self) -> int:
        return sum(s.packets for s in self.sinks)


async def bind(host: str, port: int = 0) -> tuple[Sink, int]:
    loop = asyncio.get_running_loop()
    transport, sink = await loop.create_datagram_endpoint(Sink, local_addr=(host, port))
    return sink, transport.get_extra_info("sockname")[1]


def free_even_pair(host: str) -> int:
    for _ in range(200):
        port = free_port(socket.SOCK_DGRAM, host) & ~1
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
            ):
                a.bind((host, port))
                b.bind((host, port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free even UDP port pair")


def sdp(ip: str, port: int) -> bytes:
    return (
        f"v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        "a=sendrecv\r\n"
    ).encode()


def request(
    method: str,
    edge: tuple[str, int],
    src: tuple[str, int],
    *,
    user: str = "1000",
    body: bytes = b"",
    to_tag: str = "",
    call_id: str | None = None,
) -> bytes:
    host, port = edge
    ip, sport = src
    call_id = call_id or f"{uuid.uuid4().hex}@{ip}"
    to = f"<sip:{user}@{host}>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} sip:{user}@{host}:{port} SIP/2.0",
        f"Via: SIP/2.0/UDP {ip}:{sport};branch=z9hG4bK{uuid.uuid4().hex[:16]};rport",
        "Max-Forwards: 70",
        f"From: <sip:attacker@{ip}>;tag={uuid.uuid4().hex[:8]}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: 1 {method}",
        f"Contact: <sip:attacker@{ip}:{sport}>",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def minimal_invite(edge: tuple[str, int], src: tuple[str, int]) -> bytes:
    """RFC 3261 §7.3.3 compact forms, short tags and ids: what an attacker would send."""
    ip, port = src
    return (
        f"INVITE sip:1@{edge[0]} SIP/2.0\r\n"
        f"v: SIP/2.0/UDP {ip}:{port};branch=z9hG4bK{uuid.uuid4().hex[:6]}\r\n"
        f"f: <sip:a@{ip}>;tag=1\r\nt: <sip:1@{edge[0]}>\r\ni: {uuid.uuid4().hex[:6]}\r\n"
        f"CSeq: 1 INVITE\r\nm: <sip:a@{ip}:{port}>\r\nl: 0\r\n\r\n"
    ).encode()


async def send(ex: Exchange, sock: Sink, data: bytes, to: tuple[str, int]) -> None:
    assert sock.transport is not None
    sock.transport.sendto(data, to)
    ex.sent += len(data)


async def publish_auth_plan(bootstrap: str) -> None:
    """A dialplan that requires digest auth for AUTH_NUMBER (a config record on the compacted topic)."""
    from schemas import models
    from sentiric.eventlog import topics
    from sentiric.eventlog.admin import ensure_topics
    from sentiric.eventlog.producer import EventProducer

    specs = topics.platform_topics(partitions=3, calls_retention_ms=3_600_000)
    await ensure_topics([s for s in specs if s.name == topics.CONFIG], bootstrap_servers=bootstrap)

    plan = models.Dialplan(
        event_id=uuid.uuid4(),
        entity_id="bench-auth",
        occurred_at=datetime.now(UTC),
        source="bench",
        trace_id="bench",
        pattern=AUTH_NUMBER,
        priority=1,
        action="agent",
        require_auth=True,
    )
    async with EventProducer(bootstrap_servers=bootstrap) as producer:
        await producer.publish_and_wait(plan, topic=topics.CONFIG)


async def run(window_s: float) -> list[Exchange]:
    with tempfile.TemporaryDirectory(prefix="sentiric-amp-") as tmp:
        home = Path(tmp)
        broker = LocalKafka(
            Settings(
                home=home / "kafka",
                cache_home=machine_cache(),
                kafka_port=free_port(),
                kafka_controller_port=free_port(),
            )
        )
        broker.start(detach=False)
        try:
            await publish_auth_plan(broker.bootstrap)
            settings = edge_settings(
                broker.bootstrap, home / "edge", log_level="WARNING", sip_t1_ms=500, media_timeout_s=30.0
            )
            configure(settings, "bench-amplification")
            app = EdgeApp(settings)
            await app.start()
            try:
                return await exchanges(("127.0.0.1", app.sip_port), window_s)
            finally:
                await app.stop()
        finally:
            broker.stop()


async def exchanges(edge: tuple[str, int], window_s: float) -> list[Exchange]:
    out: list[Exchange] = []
    victims = iter(f"127.0.1.{n}" for n in range(1, 250))

    async def victim() -> tuple[Sink, tuple[str, int]]:
        ip = next(victims)
        sink, port = await bind(ip)
        return sink, (ip, port)

    # INVITEs with SDP: a third party named in c=, or the spoofed source itself.
    third_ip = "127.0.2.1"
    media_port = free_even_pair(third_ip)
    rtp_sink, _ = await bind(third_ip, media_port)
    rtcp_sink, _ = await bind(third_ip, media_port + 1)
    sink, src = await victim()
    ex = Exchange("invite-sdp-foreign", sinks=[sink, rtp_sink, rtcp_sink], note=f"c={third_ip}")
    await send(ex, sink, request("INVITE", edge, src, body=sdp(third_ip, media_port)), edge)
    out.append(ex)

    sink, src = await victim()
    own_port = free_even_pair(src[0])
    own_rtp, _ = await bind(src[0], own_port)
    own_rtcp, _ = await bind(src[0], own_port + 1)
    ex = Exchange("invite-sdp-self", sinks=[sink, own_rtp, own_rtcp], note="c= the source")
    await send(ex, sink, request("INVITE", edge, src, body=sdp(src[0], own_port)), edge)
    out.append(ex)

    sink, src = await victim()
    ex = Exchange("invite-no-sdp", sinks=[sink], note="late offer")
    await send(ex, sink, request("INVITE", edge, src), edge)
    out.append(ex)

    sink, src = await victim()
    ex = Exchange("invite-minimal", sinks=[sink], note="compact headers, late offer")
    await send(ex, sink, minimal_invite(edge, src), edge)
    out.append(ex)

    sink, src = await victim()
    ex = Exchange("invite-digest", sinks=[sink], note="401 challenge")
    await send(ex, sink, request("INVITE", edge, src, user=AUTH_NUMBER, body=sdp(src[0], 4000)), edge)
    out.append(ex)

    for method in ("OPTIONS", "REGISTER"):
        sink, src = await victim()
        ex = Exchange(method.lower(), sinks=[sink])
        await send(ex, sink, request(method, edge, src), edge)
        out.append(ex)

    sink, src = await victim()
    ex = Exchange("in-dialog-bogus", sinks=[sink], note="BYE, unknown dialog")
    await send(ex, sink, request("BYE", edge, src, to_tag="nosuchtag"), edge)
    out.append(ex)

    # The attacker's own INVITE (not counted), replayed byte for byte from the victim's address.
    attacker, a_src = await victim()
    sink, src = await victim()
    original = request("INVITE", edge, a_src, body=sdp(a_src[0], 4002))
    assert attacker.transport is not None
    attacker.transport.sendto(original, edge)
    await asyncio.sleep(0.2)
    ex = Exchange("invite-replay", sinks=[sink], note="another IP and port")
    await send(ex, sink, original, edge)
    out.append(ex)

    # RTP and RTCP to the open port of a call that was answered but never ACKed.
    for name, same_ip in (("rtp-same-ip", True), ("rtp-other-ip", False)):
        caller, c_src = await victim()
        port = free_even_pair(c_src[0])
        caller_rtp, _ = await bind(c_src[0], port)
        assert caller.transport is not None
        caller.transport.sendto(request("INVITE", edge, c_src, body=sdp(c_src[0], port)), edge)
        edge_port = await answered_port(caller)
        caller_rtp.transport.close()  # type: ignore[union-attr]
        if same_ip:
            sink, _ = await bind(c_src[0])
        else:
            sink, _ = await victim()
        ex = Exchange(name, sinks=[sink], note=f"to port {edge_port}")
        if edge_port:
            rtp = struct.pack("!BBHII", 0x80, 0, 1, 160, 0x1234) + b"\xff" * 160
            rtcp = struct.pack("!BBHI", 0x81, 201, 7, 0x1234) + bytes(24)  # RR with one block
            await send(ex, sink, rtp, (edge[0], edge_port))
            await send(ex, sink, rtcp, (edge[0], edge_port + 1))
        out.append(ex)

    await asyncio.sleep(window_s)  # every retransmission timer runs out meanwhile
    return out


async def answered_port(caller: Sink, wait_s: float = 5.0) -> int:
    """The RTP port in the edge's 200 OK (the caller is ours: it sees the answer)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        match = re.search(rb"m=audio (\d+) ", caller.last) if caller.last.startswith(b"SIP/2.0 200") else None
        if match:
            return int(match.group(1))
        await asyncio.sleep(0.02)
    return 0


def table(results: list[Exchange]) -> str:
    rows = [f"{'exchange':<20} {'bytes in':>9} {'bytes out':>10} {'pkts out':>9} {'factor':>8}  note"]
    for ex in results:
        factor = ex.received / ex.sent if ex.sent else 0.0
        rows.append(f"{ex.name:<20} {ex.sent:>9} {ex.received:>10} {ex.packets:>9} {factor:>8.2f}  {ex.note}")
    worst = max(results, key=lambda e: e.received / e.sent if e.sent else 0.0)
    rows.append(f"worst: {worst.name} x{worst.received / worst.sent:.2f}")
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--window-s", type=float, default=70.0, help="how long to count what the edge sends")
    args = parser.parse_args()
    print(table(asyncio.run(run(args.window_s))))
