"""Example (b) on the real broker: the quality alert, run as `sentiric processor run
examples.quality_alert:alert`, posts to a local webhook when the answer-seizure ratio or the MOS of
the last 5 minutes falls — once when it falls, not again while it stays low, once more when it recovers.

The CDRs of a scripted day (folded by the platform's pure CDR fold) go onto `sentiric.cdr` phase by
phase, each phase minutes of event time after the last (more than the window), and the test waits for
the processor's group to commit the topic's end before judging what was (not) posted."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from projections.synthetic import DAY_START, day_of_calls
from schemas import models as m
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.topics import CDR, platform_topics
from tests.integration.e2e.stack import PARTITIONS
from tests.integration.examples.cdrs import final_record, publish_cdrs, retimed, wait_caught_up
from tests.integration.examples.processes import ProcessorProcess

GROUP = "example-quality-alert-test"
TOKEN = "hook-secret"
CALLS = day_of_calls(66, seed=5)
ANSWERED = [final_record(c) for c in CALLS if c.disposition == "answered"]
FAILED = [final_record(c) for c in CALLS if c.disposition in ("rejected", "busy", "failed", "no-answer")]


def phase(records: list[m.CallDetailRecord], start_min: float, **changes: Any) -> list[m.CallDetailRecord]:
    """The records finishing one every 30 s from `start_min` minutes into the day."""
    at = DAY_START + timedelta(minutes=start_min)
    return [retimed(r, at + timedelta(seconds=30 * i), **changes) for i, r in enumerate(records)]


class Hook:
    """The local webhook: every authorised POST's JSON body, in order."""

    def __init__(self) -> None:
        self.notices: list[dict[str, Any]] = []
        self.refused = 0

    async def receive(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.refused += 1
            return web.Response(status=401)
        self.notices.append(json.loads(await request.read()))
        return web.Response(status=204)

    async def wait(self, count: int, within_s: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while len(self.notices) < count:
            assert loop.time() < deadline, f"{len(self.notices)} notices, waited for {count}: {self.notices}"
            await asyncio.sleep(0.2)


@pytest.fixture
async def kafka(fresh_kafka: str) -> AsyncIterator[str]:
    specs = platform_topics(partitions=PARTITIONS, calls_retention_ms=7 * 24 * 3600 * 1000)
    await ensure_topics(specs, bootstrap_servers=fresh_kafka)
    yield fresh_kafka


@pytest.fixture
async def hook() -> AsyncIterator[tuple[Hook, str]]:
    receiver = Hook()
    server = web.Application()
    server.router.add_post("/hook", receiver.receive)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield receiver, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def test_the_alert_fires_once_when_quality_falls_and_once_more_when_it_recovers(
    kafka: str, hook: tuple[Hook, str], tmp_path: Path, machine_cache_dir: Path
) -> None:
    receiver, url = hook
    assert len(ANSWERED) >= 18 and len(FAILED) >= 9
    processor = ProcessorProcess(
        "examples.quality_alert:alert",
        kafka,
        tmp_path,
        machine_cache_dir,
        ALERT_APP=GROUP,
        ALERT_WEBHOOK_URL=url,
        ALERT_WEBHOOK_TOKEN=TOKEN,
        ALERT_WINDOW_MIN="5",
        ALERT_MIN_ASR="0.5",
        ALERT_MIN_MOS="3.0",
        ALERT_MIN_CALLS="3",
    )

    async def settle() -> None:
        await wait_caught_up(kafka, GROUP, CDR, PARTITIONS)
        assert processor.alive(), processor.tail()

    # A good morning and calls still running: nothing to say.
    running = [m.CallDetailRecord(call_id=f"running-{i}", disposition="in-progress") for i in range(3)]
    await publish_cdrs(kafka, [*phase(ANSWERED[:6], 0), *running])
    processor.start()
    try:
        await settle()
        assert receiver.notices == []

        # Then every call fails: the ratio falls, one alert.
        await publish_cdrs(kafka, phase(FAILED[:6], 30))
        await receiver.wait(1)
        await settle()
        # Still failing, and the same failed calls' records again (at least once): no second alert.
        await publish_cdrs(kafka, [*phase(FAILED[6:9], 33.5), *phase(FAILED[:3], 30)])
        await settle()
        assert [n["status"] for n in receiver.notices] == ["firing"]
        assert receiver.notices[0]["asr"] == 0.0 and receiver.notices[0]["calls"] >= 3

        # Answered again: resolved, once.
        await publish_cdrs(kafka, phase(ANSWERED[6:12], 60))
        await receiver.wait(2)
        await settle()
        assert [n["status"] for n in receiver.notices] == ["firing", "resolved"]
        assert receiver.notices[1]["asr"] == 1.0

        # Answered, but the voice quality falls: the MOS alert, once.
        await publish_cdrs(kafka, phase(ANSWERED[12:18], 90, mos=2.4))
        await receiver.wait(3)
        await settle()
        assert [n["status"] for n in receiver.notices] == ["firing", "resolved", "firing"]
        assert receiver.notices[2]["asr"] == 1.0 and receiver.notices[2]["mos"] == pytest.approx(2.4)
        assert receiver.refused == 0
    finally:
        processor.stop()
