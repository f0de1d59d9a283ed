"""Two tenants on one running platform (issue 15): with tenant A's read and admin tokens, every route of
the API tries to read or change tenant B's things, and never gets them.

The platform is real: uvicorn on a loopback port, its projector writing facts from the broker into
PostgreSQL, its config view following the config topic. Each tenant has calls (facts carrying the
tenant, one still live), a recording, an analytics window, a booking, and one config record of every
kind, created through the API by its own admin token. Then every route of the app (and of its OpenAPI
document) is tried by A against B's ids; each route has a case saying what A must get. A route without
a case fails the test: a route added later must say how it keeps tenants apart.

B's things all carry the marker ``globex`` (ids, names, sources), and A's answers must never contain
it (nor B's call ids); A's own things stay visible to A, so an empty answer is not mistaken for a
filter.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.synthetic import day_of_calls
from projections.webhooks import RetryPolicy
from schemas import models as m
from schemas.envelope import envelope
from schemas.samples import sample
from sentiric.net import free_port

from .conftest import Env
from .test_api import wait_for
from .test_auth import OPEN, every_route, every_websocket_route, serve
from .web.test_listen_in import refused

ADMIN = "tenant-it-admin-token-0123456789"
BOOT = {"Authorization": f"Bearer {ADMIN}"}
A, B = "acme", "globex"
MARK = B  # in every id, name and source of B's things
ADMIN_ONLY = ("/api/admin/tokens", "/api/admin/audit", "/api/admin/contacts")  # not even readable
KINDS = ("dialplans", "users", "trunks", "knowledge", "prompts", "webhooks", "actions", "contacts")
PARAMETERS = {"type": "object", "properties": {"when": {"type": "string"}}}
BODIES: dict[str, dict[str, Any]] = {
    "dialplans": {"pattern": "7*", "action": "agent"},
    "users": {"realm": "sentiric", "password": "pw-123456"},
    "trunks": {"name": "carrier", "sources": ["192.0.2.0/24"], "outbound_address": "192.0.2.1:5060"},
    "knowledge": {"title": "hours", "phrasings": ["when are you open"], "answer": "nine to five"},
    "prompts": {"kind": "greeting", "text": "hello"},
    "webhooks": {"url": "http://127.0.0.1:9/hook", "event_types": ["CallEnded"], "secret": "s" * 16},
    "actions": {"name": "book", "description": "book", "parameters": PARAMETERS,
                "url": "https://127.0.0.1:9/book", "secret": "s" * 16, "triggers": ["book"]},
    "contacts": {"numbers": ["+4930123456"], "name": "Ann"},
    "tenants": {"name": "someone"},
}  # fmt: skip


def ids(tenant: str) -> dict[str, str]:
    return {kind: f"{tenant}-{kind[:-1] if kind.endswith('s') else kind}" for kind in KINDS}


@dataclass
class World:
    app: Any
    api: str
    env: Env
    calls: dict[str, list[str]]  # tenant → its call ids (the last one live)
    tokens: dict[str, dict[str, Any]]  # "A-read", "A-admin", "B-admin" → the issued token
    audio_offset: int  # an offset inside B's first call's range

    def client(self, who: str | None = None) -> httpx.AsyncClient:
        headers = BOOT if who is None else {"Authorization": f"Bearer {self.tokens[who]['token']}"}
        return httpx.AsyncClient(base_url=self.api, timeout=30, headers=headers)


def tenant_facts(tenant: str, start: datetime, seed: int) -> tuple[list[Any], list[str]]:
    """Three ended calls and one live one, every fact carrying ``tenant``."""
    calls = day_of_calls(3, seed=seed, start=start)
    facts: list[Any] = []
    for call in calls:
        call_id = f"{tenant}-{call.call_id}"
        facts += [replace(f, call_id=call_id, tenant=tenant) for f in call.facts]
    live_id = f"{tenant}-live-{uuid.uuid4().hex[:8]}"
    invite = replace(
        sample(m.CallInviteReceived, live_id),
        event_id=uuid.uuid4(), occurred_at=datetime.now(UTC), tenant=tenant, caller=f"{tenant}-caller",
    )  # fmt: skip
    utterance = m.UtteranceCaptured(
        **envelope(live_id, seq=2, source="edge-1", tenant=tenant), utterance_id="u1", start_ms=0,
        end_ms=400, pcm=b"\x00\x01" * 400, sample_rate=16000, end_reason="silence", text=f"{tenant} says hi",
    )  # fmt: skip
    call_ids = [*dict.fromkeys(f.call_id for f in facts), live_id]
    return [*facts, invite, utterance], call_ids


def window(tenant: str, source: str) -> m.KpiWindowReported:
    start = datetime.now(UTC) - timedelta(minutes=10)
    return replace(
        sample(m.KpiWindowReported), event_id=uuid.uuid4(), tenant=tenant, source=source,
        window_start=start, window_end=start + timedelta(minutes=1), calls_offered=5, calls_answered=4,
        calls_ended=4, calls_rejected=1,
    )  # fmt: skip


@pytest.fixture
async def world(env: Env, tmp_path: Path) -> AsyncIterator[World]:
    start = datetime.now(UTC) - timedelta(hours=26)  # the calls spread over the 24 h before the last 2
    facts_a, calls_a = tenant_facts(A, start, seed=3)
    facts_b, calls_b = tenant_facts(B, start, seed=4)
    await env.produce(facts_a + facts_b)
    await env.produce(
        [window(A, "acme-src"), window(B, f"{MARK}-src"), window("*", "all-src")], env.topics.metrics
    )
    port = free_port()
    config = ApiConfig(
        dsn=env.dsn, client=env.client, admin_token=ADMIN, topics=env.topics, recordings_root=tmp_path,
        golden_root=tmp_path / "golden", run_webhooks=False,
        webhook_policy=RetryPolicy(allow_private_targets=True),
    )  # fmt: skip
    app = create_app(config)
    async with serve(app, port) as api, httpx.AsyncClient(base_url=api, timeout=30, headers=BOOT) as boot:
        for tenant in (A, B):
            r = await boot.put(f"/api/admin/tenants/{tenant}", json={"name": tenant.title()})
            assert r.status_code == 200, r.text
        tokens = {}
        for who, tenant, scopes in (
            ("A-read", A, ["read"]),
            ("A-admin", A, ["admin"]),
            ("B-admin", B, ["admin"]),
        ):
            name = f"{MARK}-admin" if tenant == B else who
            r = await boot.post("/api/admin/tokens", json={"name": name, "scopes": scopes, "tenant": tenant})
            assert r.status_code == 201, r.text
            tokens[who] = r.json()
        r = await boot.post("/api/admin/tokens", json={"name": "ops", "scopes": ["platform"]})
        assert r.status_code == 201, r.text  # a platform token: no tenant admin ever sees it
        tokens["platform"] = r.json()
        for tenant, who in ((A, "A-admin"), (B, "B-admin")):
            headers = {"Authorization": f"Bearer {tokens[who]['token']}"}
            for kind, entity_id in ids(tenant).items():
                r = await boot.put(f"/api/admin/{kind}/{entity_id}", json=BODIES[kind], headers=headers)
                assert r.status_code == 200, (kind, r.text)

        async def projected() -> bool:
            count = await app.state.services.pool.fetchval("SELECT count(*) FROM calls")
            windows = await app.state.services.pool.fetchval("SELECT count(*) FROM kpi_windows")
            return bool(count == len(calls_a) + len(calls_b) and windows == 3)

        await wait_for(projected, within_s=90)
        pool = app.state.services.pool
        await pool.execute(
            "INSERT INTO sample_bookings (booking_id, request_id, call_id, day, at, name, tenant) VALUES "
            "('100001', 'r-a', $1, '2026-12-07', '10:00', 'Ann', 'acme'), "
            "('100002', 'r-b', $2, '2026-12-07', '11:00', 'globex-booker', 'globex')",
            calls_a[0], calls_b[0],
        )  # fmt: skip
        first = await pool.fetchrow(
            "SELECT first_offset, last_offset FROM calls WHERE call_id = $1", calls_b[0]
        )
        yield World(app, api, env, {A: calls_a, B: calls_b}, tokens, first["first_offset"])


# --- what A must get on each route ------------------------------------------------------------------
# "list": 200, nothing of B's in it; "static": 200, no tenant data at all; "byid": B's id in the path
# → 404 (a read token on a write: 403; PUT of B's id: 409); "platform": 403 for both of A's tokens;
# "special": checked by its own code below.
def case(method: str, path: str) -> str:
    if path.startswith("/api/admin/tenants"):
        return "platform"
    if (method, path) in {("GET", "/metrics")}:
        return "platform"
    if "{" in path:
        return "byid"
    if method == "GET" and path in {
        "/api/calls", "/api/admin/dialplans", "/api/admin/users", "/api/admin/trunks", "/api/admin/knowledge",
        "/api/admin/prompts", "/api/admin/webhooks", "/api/admin/actions", "/api/admin/contacts",
        "/api/admin/tokens", "/api/admin/audit", "/api/sample/bookings", "/api/web/session", "/api/live",
    }:  # fmt: skip
        return "list"
    if method == "GET" and path in {"/api/stats", "/api/web/series"}:
        return "special"
    if (method, path) in {("POST", "/api/calls"), ("POST", "/api/admin/tokens")}:
        return "special"
    if method == "GET" and path in {"/", "/call", "/talk", "/console", "/docs", "/redoc", "/openapi.json",
                                     "/api/web/config"}:  # fmt: skip
        return "static"
    raise AssertionError(f"no cross-tenant case for {method} {path}: say how this route keeps tenants apart")


def b_path(world: World, path: str) -> str:
    entity = next(
        (kind for kind in (*KINDS, "tokens", "tenants") if path.startswith(f"/api/admin/{kind}/")), None
    )
    values = {
        "call_id": world.calls[B][0],
        "offset": str(world.audio_offset),
        "asset": "dashboard.js",
        "entity_id": (
            world.tokens["B-admin"]["id"] if entity == "tokens" else B if entity == "tenants"
            else ids(B)[entity] if entity else "x"
        ),
    }  # fmt: skip
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    return path


def body_for(path: str) -> dict[str, Any]:
    kind = next((k for k in BODIES if path.startswith(f"/api/admin/{k}/")), None)
    if kind is not None:
        return BODIES[kind]
    if path.endswith("/transfer"):
        return {"target": "sip:x@192.0.2.1"}
    if path.endswith("/say"):
        return {"text": "hi"}
    if path.endswith("/recording/stop"):
        return {"recording_id": "r1"}
    return {}


def leaks(world: World, text: str) -> bool:
    return MARK in text or any(call_id in text for call_id in world.calls[B])


async def request(http: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    if path == "/api/live":  # an endless stream: the first event (the snapshot) is what it shows
        async with http.stream("GET", path) as response:
            chunks = b""
            async for chunk in response.aiter_bytes():
                chunks += chunk
                if b"event: snapshot" in chunks and chunks.endswith(b"\n\n"):
                    break
            return httpx.Response(response.status_code, content=chunks)
    body = {"json": body_for(path)} if method in ("POST", "PUT", "PATCH") else {}
    return await http.request(method, path, **body)


async def test_a_tenant_reaches_nothing_of_another_tenant_on_any_route(world: World) -> None:
    routes = every_route(world.app)
    async with world.client() as boot:
        document = (await boot.get("/openapi.json")).json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert documented <= set(routes)
    tried = 0
    for who in ("A-read", "A-admin"):
        async with world.client(who) as http:
            for method, path in routes:
                if (method, path) in OPEN or (path.startswith("/web/") and "{" not in path):
                    continue  # answers strangers: no tenant data (test_auth checks each)
                kind = case(method, path)
                where = (who, method, path)
                if kind == "special":
                    continue  # below
                r = await request(http, method, b_path(world, path))
                if kind == "platform":
                    assert r.status_code == 403, (*where, r.status_code, r.text)
                elif who == "A-read" and (method != "GET" or path.startswith(ADMIN_ONLY)):
                    assert r.status_code == 403, (*where, r.status_code, r.text)
                elif kind == "byid":
                    expected = {409} if method == "PUT" else {404}
                    if path == "/web/{asset}":
                        expected = {200}  # the dashboard's own files: no tenant data
                    assert r.status_code in expected, (*where, r.status_code, r.text)
                    if r.status_code == 200:
                        assert not leaks(world, r.text), where
                else:
                    assert r.status_code == 200, (*where, r.status_code, r.text)
                    assert not leaks(world, r.text), (*where, r.text[:2000])
                tried += 1
    assert tried >= 2 * 60


async def test_a_tenant_sees_its_own_world_and_only_it(world: World) -> None:
    pool = world.app.state.services.pool
    async with world.client("A-read") as http:
        page = (await http.get("/api/calls", params={"limit": 500})).json()
        assert {c["call_id"] for c in page["items"]} == set(world.calls[A])
        assert [d["id"] for d in (await http.get("/api/admin/dialplans")).json()] == [ids(A)["dialplans"]]
        assert (await http.get(f"/api/calls/{world.calls[A][0]}")).status_code == 200
        session = (await http.get("/api/web/session")).json()
        assert (session["tenant"], session["acting_tenant"], session["platform"]) == (A, A, False)
        assert (await http.get("/api/calls", params={"tenant": B})).status_code == 403
        assert (await http.get("/api/calls", headers={"X-Sentiric-Tenant": B})).status_code == 403
        # KPIs: A's calls and A's analytics windows only
        stats = (await http.get("/api/stats")).json()
        since = datetime.now(UTC) - timedelta(hours=24)
        own = await pool.fetchval(
            "SELECT count(*) FROM calls WHERE tenant = $1 AND invite_at >= $2 AND invite_at < now()", A, since
        )
        assert stats["calls_offered"] == own > 0
        assert [w["source"] for w in stats["analytics_windows"]] == ["acme-src"]
        series = (await http.get("/api/web/series")).json()
        assert sum(p["offered"] for p in series["points"]) == own
        bookings = (await http.get("/api/sample/bookings")).json()
        assert [b["name"] for b in bookings] == ["Ann"]
    async with world.client() as platform:  # every tenant, or the one it picks
        page = (await platform.get("/api/calls", params={"limit": 500})).json()
        assert {c["call_id"] for c in page["items"]} == set(world.calls[A] + world.calls[B])
        stats = (await platform.get("/api/stats")).json()
        assert [w["source"] for w in stats["analytics_windows"]] == ["all-src"]
        picked = (await platform.get("/api/calls", params={"tenant": B, "limit": 500})).json()
        assert {c["call_id"] for c in picked["items"]} == set(world.calls[B])
        listed = (await platform.get("/api/admin/dialplans", headers={"X-Sentiric-Tenant": B})).json()
        assert [d["id"] for d in listed] == [ids(B)["dialplans"]]
        assert {t["id"] for t in (await platform.get("/api/admin/tenants")).json()} == {A, B}
        r = await platform.put(
            f"/api/admin/tenants/{A}", json={"name": "Acme", "domains": ["pbx.acme.example"]}
        )
        assert r.status_code == 200, r.text
        r = await platform.put(
            f"/api/admin/tenants/{B}", json={"name": "Globex", "domains": ["PBX.acme.example"]}
        )
        assert r.status_code == 409, r.text  # one domain, one tenant


async def test_a_tenant_admin_acts_only_in_its_own_tenant(world: World) -> None:
    async with world.client("A-admin") as http:
        # tokens: never for another tenant, never platform; B's and platform tokens are invisible
        r = await http.post("/api/admin/tokens", json={"name": "x", "scopes": ["read"], "tenant": B})
        assert r.status_code == 403, r.text
        r = await http.post("/api/admin/tokens", json={"name": "x", "scopes": ["platform"]})
        assert r.status_code == 403, r.text
        r = await http.post("/api/admin/tokens", json={"name": "own", "scopes": ["read"]})
        assert r.status_code == 201 and r.json()["tenant"] == A
        listed = {t["id"] for t in (await http.get("/api/admin/tokens")).json()}
        assert world.tokens["platform"]["id"] not in listed and world.tokens["B-admin"]["id"] not in listed
        # originate: B's trunk is no trunk, B's dialplan and knowledge are refused
        r = await http.post("/api/calls", json={"to": "+4930999", "trunk": ids(B)["trunks"]})
        assert r.status_code == 422, r.text
        r = await http.post("/api/calls", json={"to": "sip:x@192.0.2.1", "dialplan": ids(B)["dialplans"]})
        assert r.status_code == 422, r.text
        r = await http.post("/api/calls", json={"to": "sip:x@192.0.2.1", "knowledge": [ids(B)["knowledge"]]})
        assert r.status_code == 422, r.text
        # a dialplan cannot fall back to another tenant's plan
        body = {**BODIES["dialplans"], "out_of_hours": ids(B)["dialplans"]}
        r = await http.put("/api/admin/dialplans/acme-night", json=body)
        assert r.status_code == 422, r.text
        # writes are stamped with A's tenant, and B's record is untouched
        r = await http.put("/api/admin/knowledge/acme-new", json=BODIES["knowledge"])
        assert r.status_code == 200, r.text
        view = world.app.state.services.view
        assert view.get(m.KnowledgeEntry, "acme-new").tenant == A
        assert view.get(m.KnowledgeEntry, ids(B)["knowledge"]).tenant == B
        # the audit trail: A's changes only
        trail = (await http.get("/api/admin/audit")).json()
        assert trail and all(e["tenant"] == A for e in trail)
        # a disabled tenant's tokens stop working
    async with world.client() as boot:
        r = await boot.put(f"/api/admin/tenants/{A}", json={"name": "Acme", "enabled": False})
        assert r.status_code == 200, r.text
    async with world.client("A-read") as http:
        assert (await http.get("/api/calls")).status_code == 401
    await asyncio.sleep(0)


async def test_a_tenant_cannot_listen_to_another_tenants_call(world: World) -> None:
    """The WebSocket routes: every one is known here (a new one fails this test until it has a case),
    and tenant A's admin token cannot open B's live call's listen-in: the handshake is refused."""
    assert every_websocket_route(world.app) == ["/api/calls/{call_id}/listen"]
    ws = world.api.replace("http://", "ws://", 1)
    live_b = world.calls[B][-1]
    for who in ("A-read", "A-admin"):
        headers = {"Authorization": f"Bearer {world.tokens[who]['token']}"}
        assert await refused(f"{ws}/api/calls/{live_b}/listen", headers) == 403, who
