"""Outbound webhooks end to end: a real local HTTP receiver, the real broker and PostgreSQL.

The receivers listen on 127.0.0.1, a private address: the tests that deliver allow private targets
explicitly (`RetryPolicy(allow_private_targets=True)`); the last two show what happens by default."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.synthetic import day_of_calls, interleaved
from projections.webhooks import SIGNATURE_HEADER, RetryPolicy, verify
from schemas import models as m
from sentiric.eventlog import topics as log_topics

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


PRIVATE_TARGETS = [
    "http://127.0.0.1:9/hook",
    "http://10.1.2.3/hook",
    "http://172.16.5.4:8080/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest/meta-data/",  # a cloud metadata service
    "http://100.64.0.1/",
    "http://0.0.0.0:8080/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fd00::1]/hook",
    "http://localhost:8080/hook",  # a name that resolves to 127.0.0.1
]


async def test_private_targets_refused_at_registration(env: Env):
    body = {"event_types": ["*"], "secret": SECRET}
    async with api(env, run_projector=False, run_webhooks=False) as client:
        for url in PRIVATE_TARGETS:
            r = await client.put("/api/admin/webhooks/ssrf", json={"url": url, **body})
            assert r.status_code == 422, (url, r.text)
            assert r.json()["error"] == "webhook target refused" and r.json()["detail"]["reason"], url
        assert (await client.get("/api/admin/webhooks/ssrf")).status_code == 404  # nothing was written
    allowed = RetryPolicy(allow_private_targets=True)  # the setting webhook_allow_private_targets
    async with api(env, run_projector=False, run_webhooks=False, webhook_policy=allowed) as client:
        r = await client.put("/api/admin/webhooks/lab", json={"url": PRIVATE_TARGETS[0], **body})
        assert r.status_code == 200


async def test_delivery_refused_when_the_name_resolves_to_a_private_address(env: Env):
    """A subscription registered while its name was public; now the name resolves to 127.0.0.1 (DNS
    rebinding). Written to the config topic directly, as the API wrote it back then: the dispatcher
    resolves again at delivery, refuses, and parks every fact with the reason — the receiver gets none."""
    receiver = Receiver()
    policy = RetryPolicy(attempts=3, base_s=0.05, max_s=0.1, timeout_s=5.0)  # private targets refused
    calls = day_of_calls(6, seed=12)
    want = subscribed(calls)
    async with receivers(receiver):
        sub = m.WebhookSubscription(
            event_id=uuid.uuid4(), entity_id="moved", occurred_at=datetime.now(UTC), source="api",
            trace_id="t", url=f"http://localhost:{receiver.port}/hook", event_types=TYPES, secret=SECRET,
        )  # fmt: skip
        await env.produce([sub], topic=env.topics.config)
        async with api(env, run_projector=False, webhook_policy=policy) as client:
            await env.produce(interleaved(calls))

            async def all_parked():
                async with client.app.state.services.pool.acquire() as conn:  # type: ignore[attr-defined]
                    return await conn.fetchval(
                        "SELECT parked FROM webhook_deliveries WHERE subscription_id = 'moved'"
                    ) == len(want)

            await wait_for(all_parked)
    assert receiver.bodies == []
    errors = await parked_errors(env)
    assert len(errors) == len(want) and all(e.startswith("target refused:") for e in errors), errors
    assert "127.0.0.1" in errors[0] or "::1" in errors[0]


async def parked_errors(env: Env) -> list[str]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **env.client)
    await consumer.start()
    try:
        tp = TopicPartition(env.topics.webhook_deadletter, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        errors = []
        while await consumer.position(tp) < end:
            for msg in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                errors.append(dict(msg.headers)[log_topics.DLQ_ERROR].decode())
        return errors
    finally:
        await consumer.stop()
