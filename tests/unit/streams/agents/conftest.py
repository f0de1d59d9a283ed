"""A scripted HTTP endpoint on loopback for the action executor's tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest


class Endpoint:
    """A minimal HTTP/1.1 server answering each request with the next scripted (status, body, delay)."""

    def __init__(self, script: list[tuple[int, dict[str, object], float]]) -> None:
        self.script = script
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.url = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        self.requests.append((headers, body))
        status, payload, delay = self.script[min(len(self.requests), len(self.script)) - 1]
        await asyncio.sleep(delay)
        data = json.dumps(payload).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            f"Connection: close\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def endpoint(request: pytest.FixtureRequest) -> AsyncIterator[Endpoint]:
    ep = Endpoint(request.param)
    server = await asyncio.start_server(ep.handle, "127.0.0.1", 0)
    ep.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/sample/bookings"
    async with server:
        yield ep
        server.close()
