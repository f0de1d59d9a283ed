"""`WS /api/calls/{call_id}/listen`: an operator listens to a live call in the browser (listen-in).

The API relays the owning edge's gRPC ``StreamAudio`` (``protos/media.proto``) of the call — both
directions **mixed** (the caller and whoever speaks to them: the agent, an operator's words, a bridged
person), 8 kHz 16-bit little-endian mono PCM — to the browser's WebSocket, one binary message per
20 ms frame.  The first message is a text one, JSON: ``{"call_id", "sample_rate", "direction"}``.

Who may: the admin scope (a read token, or a signed-in reader, is refused before the handshake is
accepted: HTTP 403); a cookie-authenticated handshake must come from this API's own origin (the
``guard``).  The credential is checked again every ``RECHECK_S`` while audio flows.  Each listen is
audited on the log: a ``ListenCall`` command (``listening`` true, then false when it ends) on the
owning edge's command topic with ``requested_by``, so the call's timeline shows who listened, from
when to when.  Nothing is relayed unless the log acknowledged the first one.

The relay is bounded: a browser that reads slower than real time loses its own oldest frames at the
edge's tap (``dropped`` counts them), never the call's; the stream ends when the call ends (close
1000, reason ``call ended``), when the browser closes, or after ``MAX_LISTEN_S``.  The edge's
MediaService address comes from ``ApiConfig.listen_grpc`` (``SENTIRIC_LISTEN_GRPC``; default the
local edge's ``127.0.0.1:<grpc_port>``), called with the API's admin token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any, Final

import grpc
import structlog
from fastapi import APIRouter, WebSocket, WebSocketDisconnect, WebSocketException, status

from projections.api.auth import authenticate
from projections.api.calls import CallId
from projections.api.errors import ApiError
from projections.api.live import envelope, live_call, send
from projections.api.services import Services
from projections.api.tenancy import Tenancy, acting_tenant
from protos import media_pb2, media_pb2_grpc
from schemas import models as m
from sentiric.auth import ADMIN, AuthError, Principal

log = structlog.get_logger(__name__)

SAMPLE_RATE: Final = 8000
DIRECTION: Final = "mixed"
RECHECK_S: Final = 15.0
MAX_LISTEN_S: Final = 4 * 3600.0

router = APIRouter(tags=["live calls"])


def _refuse(reason: str) -> WebSocketException:
    return WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason[:120])


@router.websocket("/api/calls/{call_id}/listen")
async def listen(websocket: WebSocket, call_id: CallId) -> None:
    principal: Principal | None = getattr(websocket.state, "principal", None)  # set by the guard
    if principal is None or not principal.allows(ADMIN):
        raise _refuse("the admin scope is required")
    svc: Services = websocket.app.state.services
    try:
        scope = Tenancy(principal, acting_tenant(websocket, principal))
        node, tenant = await live_call(svc, call_id, scope, answered=True)
        address = media_service(svc.config.listen_grpc, node)
        await send(svc, node, _listen_command(call_id, scope, tenant, listening=True))
    except ApiError as exc:
        raise _refuse(exc.message) from None
    await websocket.accept()
    reason = "call ended"
    try:
        await websocket.send_text(
            json.dumps({"call_id": call_id, "sample_rate": SAMPLE_RATE, "direction": DIRECTION})
        )
        reason = await _relay(websocket, svc, call_id, address)
    except WebSocketDisconnect:
        reason = "listener left"
    finally:
        with contextlib.suppress(Exception):  # the end of the listen, best effort (the start is recorded)
            await send(svc, node, _listen_command(call_id, scope, tenant, listening=False))
        log.info("listen-in ended", call_id=call_id, by=principal.name, reason=reason)
    with contextlib.suppress(Exception):  # the browser may be gone already
        await websocket.close(code=1000 if reason == "call ended" else 1011, reason=reason)


def _listen_command(call_id: str, scope: Tenancy, tenant: str, *, listening: bool) -> m.ListenCall:
    return m.ListenCall(**envelope(call_id, scope, tenant), listening=listening, direction=DIRECTION)


def media_service(setting: str, node: str) -> str:
    """The MediaService address of edge ``node``: ``setting`` is one ``host:port`` (every call: one
    edge, or one address in front of them) or ``node=host:port`` pairs separated by commas (several
    edges; a call is heard through the edge that owns it). A node the map lacks: refused."""
    if "=" not in setting:
        return setting.strip()
    pairs = dict(part.split("=", 1) for part in setting.split(",") if "=" in part)
    address = {name.strip(): value for name, value in pairs.items()}.get(node)
    if not address:
        raise ApiError(409, "no listen-in address for the call's edge", {"edge": node})
    return address.strip()


async def _relay(websocket: WebSocket, svc: Services, call_id: str, address: str) -> str:
    """Frames from the edge at ``address`` to the browser until one side ends; returns why it ended."""
    metadata = (("authorization", f"Bearer {svc.config.admin_token}"),)
    request = media_pb2.StreamAudioRequest(
        call_id=call_id, direction=media_pb2.AUDIO_DIRECTION_MIXED, sample_rate=SAMPLE_RATE
    )
    async with grpc.aio.insecure_channel(address) as channel:
        stream = media_pb2_grpc.MediaServiceStub(channel).StreamAudio(request, metadata=metadata)
        closed = asyncio.ensure_future(_closed_by_browser(websocket))
        try:
            return await asyncio.wait_for(_pump(websocket, stream, closed), MAX_LISTEN_S)
        except TimeoutError:
            return "listen time limit"
        except grpc.aio.AioRpcError as exc:
            log.warning("listen-in stream failed", call_id=call_id, code=str(exc.code()), error=exc.details())
            return "call ended" if exc.code() == grpc.StatusCode.NOT_FOUND else "edge unavailable"
        finally:
            stream.cancel()
            closed.cancel()


async def _pump(websocket: WebSocket, stream: Any, closed: asyncio.Future[None]) -> str:
    checked = time.monotonic()
    async for frame in stream:
        if closed.done():
            return "listener left"
        await websocket.send_bytes(frame.pcm)
        if time.monotonic() - checked >= RECHECK_S:  # a revoked or expired credential stops the audio
            try:
                await authenticate(websocket)
            except (AuthError, ApiError):
                return "credential no longer valid"
            checked = time.monotonic()
    return "call ended"


async def _closed_by_browser(websocket: WebSocket) -> None:
    """Read (and ignore) what the browser sends until it closes: nothing is expected from it."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
