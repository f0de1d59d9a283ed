"""An admin write the log cannot take is answered 503 within `api_write_timeout_s`, never held for ever.

The API runs over a private broker that the test stops (its port is then closed: nothing answers
there) and starts again. The 503 says the record is still queued and may still be written; once the
broker is back the queued writes land and take effect, as it said."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import pytest

from projections.logtopics import LogTopics
from sentiric.broker.local_kafka import LocalKafka
from sentiric.eventlog.admin import ensure_topics
from sentiric.settings import Settings

from .conftest import PARTITIONS, Env, create_database, drop_database
from .test_api import api, wait_for

WRITE_TIMEOUT_S = 2.0
DIALPLAN = {"pattern": "^1000$", "action": "agent", "target": "assistant"}


@pytest.fixture
def private_kafka(make_settings: Callable[[str], Settings]) -> Iterator[LocalKafka]:
    """A broker of this test's own, started from the main thread (a managed broker is tied to it)."""
    broker = LocalKafka(make_settings("away-kafka-home"))
    broker.start(detach=False)
    try:
        yield broker
    finally:
        broker.stop()


async def test_admin_writes_get_503_within_the_deadline_while_the_broker_is_away(
    private_kafka: LocalKafka, postgres_dsn: str
) -> None:
    topics = LogTopics.prefixed(f"t{uuid.uuid4().hex[:8]}")
    await ensure_topics(topics.specs(PARTITIONS, 24 * 3600 * 1000), bootstrap_servers=private_kafka.bootstrap)
    env = Env(private_kafka.bootstrap, await create_database(postgres_dsn), postgres_dsn, topics)
    loop = asyncio.get_running_loop()
    try:
        options = {"run_projector": False, "run_webhooks": False, "write_timeout_s": WRITE_TIMEOUT_S}
        async with api(env, **options) as client:
            assert (await client.put("/api/admin/dialplans/kept", json=DIALPLAN)).status_code == 200

            await asyncio.to_thread(private_kafka.stop)  # its port is closed from here on
            began = loop.time()
            r = await client.put("/api/admin/dialplans/queued", json=DIALPLAN)
            took = loop.time() - began
            assert r.status_code == 503, r.text
            assert r.json()["error"] == "log unavailable"
            assert r.json()["detail"]["record"].startswith("unknown: still queued")
            assert "did not acknowledge within 2 s" in r.json()["detail"]["reason"]
            assert r.headers["retry-after"] == "5"
            assert WRITE_TIMEOUT_S * 0.9 <= took < WRITE_TIMEOUT_S + 20, took  # the deadline, not a hang
            # Not acknowledged: not applied to the view either.
            assert (await client.get("/api/admin/dialplans/queued")).status_code == 404
            deleted = await client.delete("/api/admin/dialplans/kept")  # a tombstone: bounded the same way
            assert deleted.status_code == 503 and deleted.json()["error"] == "log unavailable"
            assert (await client.get("/api/admin/dialplans/kept")).status_code == 200

            # The broker is back: the queued records are written after all, and take effect.
            private_kafka.spawn(detach=False)  # from the main thread, as in the fixture
            await asyncio.to_thread(private_kafka.wait_until_answering)

            async def landed() -> bool:
                queued = await client.get("/api/admin/dialplans/queued")
                kept = await client.get("/api/admin/dialplans/kept")
                return queued.status_code == 200 and kept.status_code == 404

            await wait_for(landed, within_s=90)
            assert (await client.put("/api/admin/dialplans/after", json=DIALPLAN)).status_code == 200
    finally:
        await drop_database(postgres_dsn, env.dsn)
