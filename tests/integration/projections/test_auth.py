"""Attacking a running platform's front doors: the API (uvicorn on a loopback port, with its projector,
the real PostgreSQL and broker) and the /ws gateway (its own server on another port, following the same
config topic for tokens, as the edge does).

Every route of ``app.routes`` and of the OpenAPI document is tried without a token, with a wrong,
revoked and expired one, and with a read token; /ws likewise, and with foreign origins. Tokens go
through their whole life on the real broker (issued, used, listed, revoked), and a browser-like client
signs in and uses the cookie alone for the SSE stream, a recording and /ws.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from edge.facts import FactRecorder
from edge.ws import protocol as p
from edge.ws.server import WebService
from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.synthetic import day_of_calls, interleaved
from schemas import models as m
from schemas.codec import decode
from schemas.envelope import envelope
from sentiric.eventlog import topics as log_topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port
from sentiric.settings import Settings

from .conftest import Env
from .test_api import wait_for

ADMIN = "auth-it-admin-token-0123456789"
BOOT = {"Authorization": f"Bearer {ADMIN}"}
# The routes that answer a stranger, and how: nothing else may.
OPEN = {
    ("GET", "/healthz"): 200,
    ("GET", "/signin"): 200,
    ("POST", "/signin"): 401,  # the form with no token in it: "not valid", no session
    ("POST", "/signout"): 303,
    ("GET", "/web/style.css"): 200,
    ("GET", "/web/favicon.svg"): 200,
    ("GET", "/favicon.ico"): 200,
    # signed by the sample action's secret, not a token; not configured here (test_sample_booking.py)
    ("POST", "/api/sample/bookings"): 404,
}
# HTML: a browser without a session goes to /signin
PAGES = {"/", "/call", "/talk", "/console", "/docs", "/redoc"}
PARAMS = {"call_id": "no-such-call", "entity_id": "no-such-entity", "asset": "dashboard.js", "offset": "0"}


@dataclass
class Platform:
    app: Any
    api: str  # http://127.0.0.1:<port>
    ws: str  # ws://127.0.0.1:<port>/ws
    env: Env
    recordings: Path
    call_id: str  # a projected call whose recording is under the recordings root
    recording: bytes

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.api, timeout=30, **kwargs)

    async def issue(self, scopes: list[str], **extra: Any) -> dict[str, Any]:
        async with self.client(headers=BOOT) as http:
            r = await http.post("/api/admin/tokens", json={"name": "it", "scopes": scopes, **extra})
        assert r.status_code == 201, r.text
        return r.json()

    async def revoke(self, token_id: str) -> None:
        async with self.client(headers=BOOT) as http:
            assert (await http.delete(f"/api/admin/tokens/{token_id}")).status_code == 204

    async def ws_until(self, status: int, headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        """/ws answers ``status`` now or soon: the gateway learns tokens from the config topic."""

        async def reached() -> bool:
            return await self.ws_status(headers, **kwargs) == status

        await wait_for(reached, within_s=30)

    async def ws_status(
        self, headers: dict[str, str] | None = None, query: str = "", origin: str | None = None
    ) -> int:
        """101 when /ws accepts (the call's first message read, then hung up), else the HTTP status."""
        try:
            async with connect(self.ws + query, additional_headers=headers or {}, origin=origin) as ws:
                p.SessionInfo.parse(await asyncio.wait_for(ws.recv(), 10))
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code


@contextlib.asynccontextmanager
async def serve(app: Any, port: int) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def platform(env: Env, tmp_path: Path) -> AsyncIterator[Platform]:
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    wav = recordings / "call.wav"
    wav.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt ")
    call = day_of_calls(3, seed=5)[0]
    rec = m.RecordingFinished(
        **envelope(call.call_id, seq=999, source="edge-1", occurred_at=call.facts[-1].occurred_at),
        recording_id="r", uri=wav.as_uri(), format="wav", size_bytes=16, duration_ms=1,
    )  # fmt: skip
    await env.produce([*interleaved([call]), rec])
    # The gateway follows sentiric.calls (shared by the session's tests): create it if this test is first,
    # with the partition count the edge tests use (test_eventlog expects it).
    await ensure_topics(log_topics.platform_topics(partitions=3, calls_retention_ms=86_400_000), **env.client)
    api_port = free_port()
    config = ApiConfig(
        dsn=env.dsn, client=env.client, admin_token=ADMIN, topics=env.topics, recordings_root=recordings,
        run_webhooks=False,
    )  # fmt: skip
    app = create_app(config)
    settings = Settings(
        kafka_bootstrap=env.kafka, home=tmp_path / "edge", admin_token=ADMIN, api_port=api_port,
        node_id=f"edge-auth-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    async with serve(app, api_port) as api:  # uvicorn runs the app's lifespan: projector and all
        async with EventProducer(**env.client) as producer:
            web = WebService(
                settings, FactRecorder(producer, settings.node_id), config_topic=env.topics.config, port=0
            )
            await web.start()
            try:
                yield Platform(
                    app, api, f"ws://127.0.0.1:{web.port}/ws", env, recordings, call.call_id, wav.read_bytes()
                )
            finally:
                await web.stop()


ADMIN_ELSEWHERE = {("POST", "/api/calls")}  # admin scope outside /api/admin: placing an outbound call
# Config records a read token may list and read (the console shows them; no secret is ever returned):
# every GET under /api/admin but the tokens and the audit trail.
READABLE = re.compile(
    r"^/api/admin/(dialplans|users|trunks|knowledge|prompts|webhooks|actions)(/\{entity_id\})?$"
)


def concrete(path: str) -> str:
    for name, value in PARAMS.items():
        path = path.replace("{" + name + "}", value)
    return path


def every_route(app: Any) -> list[tuple[str, str]]:
    routes = []
    for rc in iter_route_contexts(app.routes):
        if isinstance(rc.original_route, APIWebSocketRoute):
            continue  # the guard reaches these too: every_websocket_route
        assert isinstance(rc.original_route, APIRoute), f"{rc.path}: a plain route no dependency reaches"
        routes += [(method, rc.path) for method in sorted(rc.methods)]
    return routes


def every_websocket_route(app: Any) -> list[str]:
    return [
        rc.path for rc in iter_route_contexts(app.routes) if isinstance(rc.original_route, APIWebSocketRoute)
    ]


async def api_ws_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket handshake on an API route (101: accepted)."""
    try:
        async with connect(url, additional_headers=headers):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def attempt(http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, Any] = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    if path == "/signin":
        body = {"data": {"token": ""}}  # the form, empty
    if path == "/api/live":  # an endless stream when allowed: its status line is all we need then
        async with http.stream(method, path, headers=headers) as response:
            if response.status_code != 200:
                await response.aread()
            return response
    return await http.request(method, concrete(path), headers=headers, **body)


async def test_every_route_refuses_strangers(platform: Platform) -> None:
    routes = every_route(platform.app)
    async with platform.client(headers=BOOT) as http:
        document = (await http.get("/openapi.json")).json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented <= set(routes), documented - set(routes)  # the document names no unknown route
    assert set(OPEN) <= set(routes)
    reader = await platform.issue(["read"])
    revoked = await platform.issue(["admin"])
    await platform.revoke(revoked["id"])
    expiring = await platform.issue(
        ["admin"], expires_at=(datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    )
    await asyncio.sleep(2.1)
    wrong = ["Bearer nope", f"Bearer {reader['token'][:-2]}xx", f"Bearer {revoked['token']}",
             f"Bearer {expiring['token']}", "Basic YWRtaW46YWRtaW4=", f"Bearer {ADMIN}x"]  # fmt: skip
    checked = 0
    async with platform.client() as http:
        for method, path in routes:
            anonymous = await attempt(http, method, path, {})
            if (method, path) in OPEN:
                assert anonymous.status_code == OPEN[(method, path)], (method, path, anonymous.text)
                assert "www-authenticate" not in anonymous.headers
                continue
            if path in PAGES:
                assert anonymous.status_code == 303, (method, path)
                assert anonymous.headers["location"] == f"/signin?next={path}"
            else:
                assert anonymous.status_code == 401, (method, path, anonymous.status_code)
                assert anonymous.headers["www-authenticate"].startswith("Bearer")
                assert anonymous.json()["error"] == "unauthorized"
            for authorization in wrong:
                refused = await attempt(http, method, path, {"Authorization": authorization})
                assert refused.status_code == 401, (method, path, authorization, refused.text)
                assert 'error="invalid_token"' in refused.headers["www-authenticate"]
            as_reader = await attempt(http, method, path, {"Authorization": f"Bearer {reader['token']}"})
            readable = method == "GET" and READABLE.match(path) is not None
            admin_only = (path.startswith("/api/admin") and not readable) or (method, path) in ADMIN_ELSEWHERE
            if admin_only or (method == "POST" and path.startswith("/api/calls/")):  # and operator actions
                assert as_reader.status_code == 403, (method, path)
                assert 'scope="admin"' in as_reader.headers["www-authenticate"]
            else:
                assert as_reader.status_code not in (401, 403), (method, path, as_reader.text)
            checked += 1
    assert checked == len(routes) - len(OPEN) >= 37  # every API, admin, dashboard and docs route
    # The API's own WebSocket routes (listen-in): refused at the handshake, admin scope only.
    sockets = every_websocket_route(platform.app)
    assert sockets == ["/api/calls/{call_id}/listen"], sockets
    for path in sockets:
        url = platform.api.replace("http://", "ws://") + concrete(path)
        assert await api_ws_status(url, {}) == 403, path
        for authorization in [*wrong, f"Bearer {reader['token']}"]:
            assert await api_ws_status(url, {"Authorization": authorization}) == 403, (path, authorization)
    # /ws: the same strangers, plus browsers from elsewhere.
    assert await platform.ws_status() == 401
    for authorization in wrong:
        assert await platform.ws_status({"Authorization": authorization}) == 401
    assert await platform.ws_status(query="?access_token=nope") == 401
    assert await platform.ws_status(query=f"?access_token={revoked['token']}") == 401
    await platform.ws_until(101, {"Authorization": f"Bearer {reader['token']}"})
    assert await platform.ws_status(query=f"?caller=it&access_token={reader['token']}") == 101
    foreign = {"Authorization": f"Bearer {reader['token']}"}
    assert await platform.ws_status(foreign, origin="https://evil.example") == 403
    assert await platform.ws_status(foreign, origin=platform.api) == 101


async def config_values(env: Env) -> list[tuple[str, bytes | None]]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **env.client)
    await consumer.start()
    try:
        tp = TopicPartition(env.topics.config, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out = []
        while await consumer.position(tp) < end:
            for msg in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                out.append((msg.key.decode(), msg.value))
        return out
    finally:
        await consumer.stop()


async def test_token_lifecycle_on_the_real_broker(platform: Platform) -> None:
    async with platform.client(headers=BOOT) as http:
        r = await http.post("/api/admin/tokens", json={"name": "reporting", "scopes": ["read"]})
        assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
        issued = r.json()
        token, token_id = issued["token"], issued["id"]
        assert token.startswith(f"st_{token_id}_") and issued["scopes"] == ["read"] and not issued["revoked"]
        secret = token.split("_", 2)[2]
        listed = await http.get("/api/admin/tokens")
        one = await http.get(f"/api/admin/tokens/{token_id}")
        for shown in (listed, one):  # never the secret, nor its hash, again
            assert shown.status_code == 200 and secret not in shown.text
            assert hashlib.sha256(secret.encode()).hexdigest() not in shown.text and "token" not in one.json()
        assert [t["id"] for t in listed.json()] == [token_id]
    user = {"Authorization": f"Bearer {token}"}
    async with platform.client(headers=user) as http:
        assert (await http.get("/api/calls")).status_code == 200
        refused = await http.post("/api/admin/tokens", json={"name": "escalate", "scopes": ["admin"]})
        assert refused.status_code == 403  # a read token cannot mint an admin one
    await platform.ws_until(101, user)  # the gateway learns it from the config topic

    stored = [(k, v) for k, v in await config_values(platform.env) if k == f"apitoken:{token_id}"]
    assert len(stored) == 1 and secret.encode() not in stored[0][1]
    record = decode(stored[0][1])
    assert record.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
    assert all(secret.encode() not in (v or b"") for _, v in await config_values(platform.env))

    await platform.revoke(token_id)
    async with platform.client(headers=user) as http:  # this API: at once
        after = await http.get("/api/calls")
    assert after.status_code == 401 and after.json()["detail"] == "token revoked"

    await platform.ws_until(401, user)  # the gateway: as soon as its follower reads the record
    latest = decode([v for k, v in await config_values(platform.env) if k == f"apitoken:{token_id}"][-1])
    assert latest.revoked and latest.secret_sha256 == ""
    async with platform.client(headers=BOOT) as http:
        assert (await http.get(f"/api/admin/tokens/{token_id}")).json()["revoked"] is True
        bad = await http.post("/api/admin/tokens", json={"name": "x", "scopes": ["root"]})
        past = await http.post(
            "/api/admin/tokens", json={"name": "x", "scopes": ["read"], "expires_at": "2020-01-01T00:00:00Z"}
        )
        assert bad.status_code == 422 and past.status_code == 422


async def sign_in(platform: Platform, token: str) -> httpx.Cookies:
    async with platform.client() as http:
        form = {"token": token, "next": "/talk"}
        r = await http.post("/signin", data=form, headers={"Origin": platform.api})
    assert r.status_code == 303 and r.headers["location"] == "/talk"
    set_cookie = r.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=strict", "Path=/"):
        assert attribute.lower() in set_cookie.lower(), set_cookie
    assert "secure" not in set_cookie.lower() and token not in set_cookie  # plain http here
    return r.cookies


async def test_the_session_cookie_alone_carries_sse_recordings_and_ws(platform: Platform) -> None:
    reader = await platform.issue(["read"])
    async with platform.client() as http:
        evil = await http.post(
            "/signin", data={"token": reader["token"]}, headers={"Origin": "http://evil.example"}
        )
        assert evil.status_code == 403 and "set-cookie" not in evil.headers
        wrong = await http.post("/signin", data={"token": "nope"}, headers={"Origin": platform.api})
        assert wrong.status_code == 401 and "set-cookie" not in wrong.headers
    cookies = await sign_in(platform, reader["token"])
    cookie = f"sentiric_session={cookies['sentiric_session']}"
    async with platform.client(cookies=cookies) as http:
        assert (await http.get("/talk")).status_code == 200
        async with http.stream("GET", "/api/live") as live:
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
            first = b""
            async for chunk in live.aiter_bytes():
                first += chunk
                if b"event: snapshot" in first:
                    break
        recording = await wait_for(lambda: _recording(http, platform.call_id))
        assert recording.content == platform.recording
    # /ws with the cookie alone, from the dashboard's own origin; refused from any other.
    await platform.ws_until(101, {"Cookie": cookie}, origin=platform.api)
    assert await platform.ws_status({"Cookie": cookie}, origin="https://evil.example") == 403
    other_port = platform.api.rsplit(":", 1)[0] + f":{free_port()}"
    assert await platform.ws_status({"Cookie": cookie}, origin=other_port) == 403
    assert await platform.ws_status({"Cookie": cookie[:-3] + "AAA"}, origin=platform.api) == 401
    # Revoking the token ends its sessions: here at once, on /ws as soon as the gateway knows.
    await platform.revoke(reader["id"])
    async with platform.client(cookies=cookies) as http:
        assert (await http.get("/api/calls")).status_code == 401
        assert (await http.get("/talk")).headers["location"] == "/signin?next=/talk"
    await platform.ws_until(401, {"Cookie": cookie}, origin=platform.api)


async def _recording(http: httpx.AsyncClient, call_id: str) -> httpx.Response | None:
    r = await http.get(f"/api/calls/{call_id}/recording")
    return r if r.status_code == 200 else None


async def test_cookie_writes_only_from_this_origin_and_sign_out(platform: Platform) -> None:
    admin = await platform.issue(["admin"])
    cookies = await sign_in(platform, admin["token"])
    plan = {"pattern": "^1$", "action": "agent"}
    async with platform.client(cookies=cookies) as http:
        for origin in ("http://evil.example", platform.api.rsplit(":", 1)[0] + ":1", "null"):
            refused = await http.put("/api/admin/dialplans/csrf", json=plan, headers={"Origin": origin})
            assert refused.status_code == 403, origin
        assert (await http.put("/api/admin/dialplans/csrf", json=plan)).status_code == 403  # no Origin
        ok = await http.put("/api/admin/dialplans/csrf", json=plan, headers={"Origin": platform.api})
        assert ok.status_code == 200
        assert (await http.get("/api/admin/dialplans/csrf")).status_code == 200  # reads need no Origin
        out = await http.post("/signout", headers={"Origin": platform.api})
        assert out.status_code == 303 and 'sentiric_session=""' in out.headers["set-cookie"]
        assert (await http.get("/api/calls")).status_code == 401  # the browser dropped the cookie


async def test_revocation_ends_an_open_live_stream(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SSE stream opened with a token ends once the token is revoked (re-checked at each event and
    keep-alive; both shortened here so the test does not wait 15 s for a keep-alive)."""
    from projections.web import live, routes

    monkeypatch.setattr(live, "KEEPALIVE_S", 0.2)
    monkeypatch.setattr(routes, "RECHECK_S", 0.1)
    reader = await platform.issue(["read"])
    async with (
        platform.client(headers={"Authorization": f"Bearer {reader['token']}"}) as http,
        http.stream("GET", "/api/live") as stream,
    ):
        assert stream.status_code == 200
        chunks = stream.aiter_bytes()
        assert b"event: snapshot" in await anext(chunks)
        await platform.revoke(reader["id"])

        async def drain() -> None:
            async for _ in chunks:
                pass

        await asyncio.wait_for(drain(), 30)  # the server ended the stream
