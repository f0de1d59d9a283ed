"""The real web stack for the gateway and browser tests: the session's Kafka, a streams worker as a
subprocess (`python -m sentiric.cli worker`, the embedded engines), and the WebSocket gateway
in-process (its own producer, command consumer and token follower, as when no edge embeds it).

The gateway checks tokens like a deployed one: `ADMIN_TOKEN` is the bootstrap admin token of the stack
(and of the browser test's API, so both sign the session cookie with the same key), and `api_port` is
chosen up front so that the gateway's default Origin allow-list is the API's own origin."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge.facts import FactRecorder
from edge.ws.server import WebService
from sentiric.broker.local_kafka import LocalKafka
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics, partition_count
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port
from sentiric.settings import Settings

ROOT = Path(__file__).parents[3]
NODE = "edge-web-it"
ADMIN_TOKEN = "web-it-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def sample_url(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.api_port}/api/sample/bookings"


@dataclass
class WebStack:
    settings: Settings
    env: dict[str, str]
    service: WebService
    worker: subprocess.Popen[bytes]
    worker_log: Path

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.service.port}/ws"

    def alive(self) -> bool:
        return self.worker.poll() is None

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sentiric.cli", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip


async def wait_until(
    predicate: Callable[[], Any], what: str, within_s: float, alive: Callable[[], bool]
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        value = predicate()
        if value:
            return value
        if not alive():
            raise AssertionError(f"the worker died waiting for {what}")
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
def web_kafka(make_settings: Callable[[str], Settings]) -> Iterator[str]:
    """The web tests' own empty broker: their worker reads the call topic from offset 0 (offset reset
    `earliest`) and must not replay the calls every other test put on the session's broker first."""
    broker = LocalKafka(make_settings("web-kafka-home"))
    broker.start(detach=False)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture(scope="session")  # one worker for every web test: Faust rebalances are slow
async def web_stack(
    web_kafka: str, tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path
) -> AsyncIterator[WebStack]:
    kafka = web_kafka
    home = tmp_path_factory.mktemp("web-stack")
    settings = Settings(
        kafka_bootstrap=kafka, home=home, cache_home=machine_cache_dir, node_id=NODE,
        admin_token=ADMIN_TOKEN, api_port=free_port(),
    )  # fmt: skip
    client = client_options(settings)
    specs = topics.platform_topics(
        partitions=2, calls_retention_ms=settings.calls_retention_ms, node_ids=(NODE,)
    )
    await ensure_topics(specs, **client)
    partitions = await partition_count(topics.CALLS, **client)  # another test may have made it first
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        "SENTIRIC_KAFKA_BOOTSTRAP": kafka,
        "SENTIRIC_HOME": str(home),
        "SENTIRIC_CACHE_HOME": str(machine_cache_dir),
        "SENTIRIC_TOPIC_PARTITIONS": str(partitions),
        "SENTIRIC_STREAMS_OFFSET_RESET": "earliest",
        "SENTIRIC_NO_INPUT_TIMEOUT_S": "300",
        # the sample booking endpoint, on the API a test starts on api_port (test_ws_booking.py)
        "SENTIRIC_SAMPLE_ACTION_URL": sample_url(settings),
    }
    log_path = home / "worker.log"
    with log_path.open("ab") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 - starting a process does not block; it is not awaited
            [sys.executable, "-m", "sentiric.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    producer = EventProducer(**client)
    await producer.start()
    service = WebService(settings, FactRecorder(producer, NODE), own_commands=True, port=0)
    await service.start()
    try:
        yield WebStack(settings, env, service, worker, log_path)
    finally:
        await service.stop()
        await producer.stop()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
