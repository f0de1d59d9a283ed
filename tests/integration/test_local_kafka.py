"""The local Kafka is a real broker: it keeps its data across restarts and any Kafka client speaks to it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from sentiric.broker.local_kafka import LocalKafka
from sentiric.settings import Settings


async def kcat(*args: str, stdin: bytes = b"") -> str:
    """Run kcat, the librdkafka command-line client: an implementation independent of aiokafka."""
    found = shutil.which("kcat")
    assert found, "kcat is required by the integration tests: apt-get install -y kcat"
    process = await asyncio.create_subprocess_exec(
        found,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate(stdin)
    assert process.returncode == 0, err.decode()
    return out.decode()


async def create_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def read_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        async with asyncio.timeout(60):
            while len(out) < expected:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    out += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return out


async def test_messages_survive_a_stop_and_a_start(make_settings: Callable[[str], Settings]) -> None:
    broker = LocalKafka(make_settings("restart-home"))
    assert not broker.status().running

    first = await asyncio.to_thread(broker.start)
    assert first.changed and first.running and first.answering and first.pid
    again = await asyncio.to_thread(broker.start)  # already running: a no-op that says so
    assert (again.changed, again.pid, again.answering) == (False, first.pid, True)
    status = await asyncio.to_thread(broker.status)
    assert (status.running, status.answering, status.pid) == (True, True, first.pid)
    assert status.bootstrap == f"127.0.0.1:{broker.settings.kafka_port}"

    try:
        topic = f"restart-{uuid.uuid4().hex[:8]}"
        await create_topic(broker.bootstrap, topic)
        sent = [(f"call-{i}".encode(), f"fact {i}".encode()) for i in range(20)]
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for key, value in sent:
                await producer.send_and_wait(topic, value, key=key)
        finally:
            await producer.stop()

        stopped = await asyncio.to_thread(broker.stop)
        assert stopped.changed and stopped.pid == first.pid
        assert not broker.status().running
        assert not broker.pid_file.exists()

        second = await asyncio.to_thread(broker.start)
        assert second.changed and second.pid != first.pid
        assert await read_all(broker.bootstrap, topic, len(sent)) == sent
    finally:
        await asyncio.to_thread(broker.stop)
    assert (await asyncio.to_thread(broker.stop)).changed is False  # stopping a stopped broker: a no-op


async def test_kcat_lists_the_broker_and_round_trips_with_aiokafka(kafka: str) -> None:
    brokers = json.loads(await kcat("-b", kafka, "-L", "-J"))["brokers"]
    assert [(b["id"], b["name"]) for b in brokers] == [(1, kafka)]

    topic = f"kcat-{uuid.uuid4().hex[:8]}"
    await create_topic(kafka, topic)
    await kcat("-b", kafka, "-P", "-t", topic, "-K", ":", stdin=b"call-1:INVITE\ncall-2:BYE\n")
    assert await read_all(kafka, topic, 2) == [(b"call-1", b"INVITE"), (b"call-2", b"BYE")]

    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"ACK", key=b"call-3")
    finally:
        await producer.stop()
    consumed = await kcat("-b", kafka, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s\n")
    assert consumed.splitlines() == ["call-1=INVITE", "call-2=BYE", "call-3=ACK"]


def test_broker_command_starts_reports_and_stops(make_settings: Callable[[str], Settings]) -> None:
    settings = make_settings("cli-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")}
    env |= {
        "SENTIRIC_HOME": str(settings.home),
        "SENTIRIC_CACHE_HOME": str(settings.cache_dir),
        "SENTIRIC_KAFKA_PORT": str(settings.kafka_port),
        "SENTIRIC_KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
    }

    def broker(action: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sentiric.cli", "broker", action]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    try:
        assert broker("status").returncode == 3
        started = broker("start")
        assert started.returncode == 0, started.stderr
        assert started.stdout.startswith("started in ")
        again = broker("start")
        assert again.returncode == 0 and again.stdout.startswith("already running: local Kafka is running")
        status = broker("status")
        assert status.returncode == 0
        assert status.stdout.strip().endswith(f"at {settings.bootstrap_servers}, answering")
    finally:
        stopped = broker("stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("stopped local Kafka (pid ")
    assert broker("status").returncode == 3
    assert broker("stop").stdout.strip() == "local Kafka was not running"
