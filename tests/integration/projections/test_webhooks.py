"""Outbound webhooks end to end: a real local HTTP receiver, the real broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from projections.synthetic import day_of_calls, interleaved
from projections.webhooks import SIGNATURE_HEADER, RetryPolicy, verify

from .conftest import Env
from .test_api import AUTH, api, wait_for

SECRET = "whsec-0123456789abcdef"
TYPES = ("CallAnswered", "CallEnded")


@dataclass
class Receiver:
    status: int = 200
    delay_s: float = 0.0
    bodies: list[dict] = field(default_factory=list)
    bad_signatures: int = 0
    runner: web.AppRunner | None = None
    port: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status == 200:
            if not verify(body, SECRET, request.headers.get(SIGNATURE_HEADER, "")):
                self.bad_signatures += 1
            self.bodies.append(json.loads(body))
        return web.Response(status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ids(self) -> Counter:
        return Counter(b["event_id"] for b in self.bodies)


def subscribed(calls) -> set[str]:
    return {str(f.event_id) for c in calls for f in c.facts if type(f).__name__ in TYPES}


async def register(client, sub_id: str, url: str) -> None:
    body = {"url": url, "event_types": list(TYPES), "secret": SECRET}
    r = await client.put(f"/api/admin/webhooks/{sub_id}", json=body, headers=AUTH)
    assert r.status_code == 200, r.text


@contextlib.asynccontextmanager
async def receivers(*items: Receiver):
    for r in items:
        await r.start()
    try:
        yield items
    finally:
        for r in items:
            await r.stop()


async def test_each_fact_once_signed_backlog_after_downtime_and_no_resend_after_restart(env: Env):
    fast, slow = Receiver(), Receiver(delay_s=2.0)
    # The receivers listen on 127.0.0.1: a private target, refused unless allowed (test_auth.py).
    policy = RetryPolicy(attempts=200, base_s=0.05, max_s=0.5, timeout_s=5.0, allow_private_targets=True)
    day = day_of_calls(90, seed=4)
    first, second, third = day[:30], day[30:60], day[60:]
    async with receivers(fast, slow):
        async with api(env, run_projector=False, webhook_policy=policy) as client:
            await register(client, "fast", fast.url)
            await register(client, "slow", slow.url)
            await env.produce(interleaved(first))
            await wait_for(lambda: _has(fast, subscribed(first)))
            # The slow endpoint (2 s per delivery) is still far behind: it never held the fast one up.
            assert len(slow.bodies) < len(subscribed(first))
            # Down: nothing is lost; back up: the backlog arrives.
            await fast.stop()
            await env.produce(interleaved(second))
            await asyncio.sleep(1.0)
            await fast.start()
            await wait_for(lambda: _has(fast, subscribed(first) | subscribed(second)))
        # A restart resumes from the stored offsets: the third batch arrives, nothing is re-sent.
        async with api(env, run_projector=False, webhook_policy=policy):
            await env.produce(interleaved(third))
            await wait_for(lambda: _has(fast, subscribed(day)))
    assert fast.ids() == Counter(subscribed(day))  # each exactly once
    assert fast.bad_signatures == 0
    assert {b["type"] for b in fast.bodies} == set(TYPES)
    assert all("pcm" not in b for b in fast.bodies)


async def test_refused_deliveries_are_parked_and_replayable(env: Env):
    receiver = Receiver(status=400)
    # The receiver listens on 127.0.0.1: a private target, refused unless allowed (test_auth.py).
    policy = RetryPolicy(attempts=3, base_s=0.05, max_s=0.1, timeout_s=5.0, allow_private_targets=True)
    calls = day_of_calls(12, seed=8)
    async with receivers(receiver), api(env, run_projector=False, webhook_policy=policy) as client:
        await register(client, "picky", receiver.url)
        await env.produce(interleaved(calls))
        want = subscribed(calls)

        async def all_parked():
            async with client.app.state.services.pool.acquire() as conn:  # type: ignore[attr-defined]
                return await conn.fetchval(
                    "SELECT parked FROM webhook_deliveries WHERE subscription_id = 'picky'"
                ) == len(want)

        await wait_for(all_parked)
        assert receiver.bodies == []
        receiver.status = 200
        r = await client.post("/api/admin/webhooks/picky/replay", headers=AUTH)
        assert r.json() == {"delivered": len(want), "parked": 0}
        assert set(receiver.ids()) == want and max(receiver.ids().values()) == 1
        again = await client.post("/api/admin/webhooks/picky/replay", headers=AUTH)
        assert again.json() == {"delivered": 0, "parked": 0}
        assert receiver.bad_signatures == 0


async def _has(receiver: Receiver, ids: set[str]) -> bool:
    return ids <= set(receiver.ids())
