"""Loopback fixtures for the media engine: an engine on a free port range, and a fake caller socket."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edge.facts import FactRecorder, ListPublisher
from edge.media.endpoint import RtpEndpoint
from edge.media.engine import MediaEngine
from edge.media.rtp.packet import RtpPacket
from edge.media_port import MediaOptions
from sentiric.settings import Settings

FIXTURES = Path(__file__).parents[3] / "fixtures" / "media"
ADMIN_TOKEN = "media-it-admin-token-0123456789"


def free_udp_range(size: int = 40) -> int:
    """An even base port whose next ``size`` UDP ports are free on 127.0.0.1 right now."""
    for _ in range(200):
        base = random.randrange(21000, 32700 - size) & ~1  # below the ephemeral port range
        socks = []
        try:
            for port in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range on 127.0.0.1")


def media_settings(tmp_path: Path, **overrides: Any) -> Settings:
    base = free_udp_range()
    values: dict[str, Any] = {
        "home": tmp_path,
        "rtp_host": "127.0.0.1",
        "rtp_port_min": base,
        "rtp_port_max": base + 39,
        "rtp_port_quarantine_s": 0.5,
        "media_quality_interval_s": 5.0,
        "recording_s3_buckets": "recordings",  # the bucket test_recording's moto S3 test writes to
        "admin_token": ADMIN_TOKEN,  # the gRPC tests authenticate with it
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Harness:
    engine: MediaEngine
    publisher: ListPublisher
    facts: FactRecorder

    async def open_session(
        self,
        call_id: str,
        remote_addr: tuple[str, int] | None,
        *,
        codec: str = "PCMU",
        payload_type: int = 0,
        dtmf_payload_type: int | None = 101,
        **options: Any,
    ) -> RtpEndpoint:
        """A session on a port from the engine's pool, as the SIP side opens one (20 ms ptime)."""
        return await self.engine.open_session(
            call_id,
            MediaOptions(
                local_port=self.engine.pool.allocate(time.monotonic()),
                remote_addr=remote_addr,
                codec=codec,
                payload_type=payload_type,
                dtmf_payload_type=dtmf_payload_type,
                ptime_ms=20,
                **options,
            ),
        )

    def facts_of(self, model: type[Any], call_id: str | None = None) -> list[Any]:
        return [
            r
            for r in self.publisher.records
            if isinstance(r, model) and (call_id is None or r.call_id == call_id)
        ]

    async def wait_for(
        self, model: type[Any], count: int = 1, within: float = 10.0, **match: Any
    ) -> list[Any]:
        deadline = time.monotonic() + within
        while True:
            found = [r for r in self.facts_of(model) if all(getattr(r, k) == v for k, v in match.items())]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {count} {model.__name__} {match}: {found}")
            await asyncio.sleep(0.02)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    publisher = ListPublisher()
    facts = FactRecorder(publisher, "edge-test")
    engine = MediaEngine(media_settings(tmp_path), facts)
    await engine.start()
    try:
        yield Harness(engine, publisher, facts)
    finally:
        await engine.stop()


@dataclass
class Caller(asyncio.DatagramProtocol):
    """The far end: a plain UDP socket that keeps what it receives, with arrival times."""

    received: list[tuple[float, bytes]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append((time.monotonic(), data))

    @property
    def addr(self) -> tuple[str, int]:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[:2]

    def send(self, data: bytes, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data, to)

    def packets(self) -> list[RtpPacket]:
        return [RtpPacket.parse(d) for _, d in self.received]


@pytest.fixture
async def make_caller() -> AsyncIterator[Callable[[], Any]]:
    callers: list[Caller] = []

    async def make() -> Caller:
        loop = asyncio.get_running_loop()
        _, caller = await loop.create_datagram_endpoint(Caller, local_addr=("127.0.0.1", 0))
        callers.append(caller)
        return caller

    yield make
    for caller in callers:
        if caller.transport is not None:
            caller.transport.close()


async def send_rtp_stream(
    caller: Caller,
    to: tuple[str, int],
    payloads: list[bytes],
    *,
    payload_type: int = 0,
    ssrc: int = 0x1234,
    seq: int = 1000,
    ts: int = 5000,
    protect: Callable[[bytes], bytes] | None = None,
) -> None:
    """Send payloads as 20 ms RTP packets in real time (on a fixed grid)."""
    start = time.monotonic()
    for i, payload in enumerate(payloads):
        packet = bytes(
            RtpPacket(payload_type, (seq + i) & 0xFFFF, (ts + 160 * i) & 0xFFFFFFFF, ssrc, payload)
        )
        caller.send(protect(packet) if protect else packet, to)
        delay = start + (i + 1) * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
