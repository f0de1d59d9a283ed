"""The edge's Prometheus endpoint (``edge_metrics_port``, on ``sip_host``): a minimal HTTP/1.0 responder
that, like the API's ``/metrics``, wants a read-scope token (``Authorization: Bearer``; Prometheus sends
one with ``authorization: {credentials_file: …}`` in its scrape config). Without: 401.

``respond`` is the pure part (request head in, response bytes out); ``metrics_handler`` the
``asyncio.start_server`` callback around it. Heads over 8 KiB, or not complete within 5 s, are dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sentiric.auth import READ, AuthError, Verifier, bearer_token

MAX_HEAD: Final = 8192
HEAD_TIMEOUT_S: Final = 5.0


def respond(
    head: bytes, verifier: Verifier, now: float, metrics: Callable[[], bytes] = generate_latest
) -> bytes:
    """The whole response to one request head (any method, any path: there is one resource)."""
    authorization = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"authorization":
            authorization = value.strip().decode("latin-1")
    try:
        token = bearer_token(authorization)
        if token is None:
            raise AuthError("a bearer token with the read scope is required")
        allowed = verifier.bearer(token, now).allows(READ)
    except AuthError as exc:
        body = f"{exc.reason}\n".encode()
        return (
            b'HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="sentiric"\r\n'
            b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    if not allowed:
        return b"HTTP/1.0 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    body = metrics()
    status = f"HTTP/1.0 200 OK\r\nContent-Type: {CONTENT_TYPE_LATEST}\r\nContent-Length: {len(body)}\r\n\r\n"
    return status.encode() + body


def metrics_handler(
    verifier: Verifier,
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            writer.write(respond(head, verifier, time.time()))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    return serve
