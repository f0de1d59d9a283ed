"""The local three-node cluster is a real, replicated, secured Kafka cluster.

- `sentiric broker start --nodes 3 --secure` starts it, reports it, writes the clients' settings, and
  `stop` stops every node; kcat (librdkafka, an implementation independent of ours) joins it over
  SASL_SSL/SCRAM with the private CA.
- The platform's topics are created with three replicas and `min.insync.replicas` 2.
- An acks=all producer keeps writing while the leader of its partitions is killed -9: every fact is on
  the log exactly once (counted by event_id), and the pause the producer saw is printed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from schemas import models as m
from sentiric.broker.cluster import LocalKafkaCluster
from sentiric.broker.tls import ClusterTls
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.connection import LogAccessError, check_access, client_options
from sentiric.eventlog.consumer import read_partition_until_end
from sentiric.eventlog.producer import EventProducer
from sentiric.settings import Settings

from .conftest import cluster_settings


async def kcat(*args: str) -> str:
    found = shutil.which("kcat")
    assert found, "kcat is required by the integration tests: apt-get install -y kcat"
    proc = await asyncio.create_subprocess_exec(
        found, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


def kcat_security(env: dict[str, str]) -> list[str]:
    """librdkafka's names for the settings `client_env` gives our processes."""
    pairs = {
        "security.protocol": env["SENTIRIC_KAFKA_SECURITY_PROTOCOL"],
        "sasl.mechanisms": env["SENTIRIC_KAFKA_SASL_MECHANISM"],
        "sasl.username": env["SENTIRIC_KAFKA_SASL_USERNAME"],
        "sasl.password": env["SENTIRIC_KAFKA_SASL_PASSWORD"],
        "ssl.ca.location": env["SENTIRIC_KAFKA_SSL_CA_FILE"],
    }
    return [arg for key, value in pairs.items() for arg in ("-X", f"{key}={value}")]


def test_broker_command_runs_a_secured_three_node_cluster(tmp_path: Path, machine_cache_dir: Path) -> None:
    settings = cluster_settings(tmp_path / "home", machine_cache_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")}
    env |= {
        "SENTIRIC_HOME": str(settings.home),
        "SENTIRIC_CACHE_HOME": str(machine_cache_dir),
        "SENTIRIC_KAFKA_PORT": str(settings.kafka_port),
        "SENTIRIC_KAFKA_CONTROLLER_PORT": str(settings.kafka_controller_port),
        "SENTIRIC_KAFKA_HEAP": settings.kafka_heap,
    }

    def broker(*action: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "sentiric.cli", "broker", *action]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)

    try:
        started = broker("start", "--nodes", "3", "--secure")
        assert started.returncode == 0, started.stderr
        first, clients = started.stdout.splitlines()
        assert first.startswith("started in ") and "local Kafka cluster (3 nodes, SASL_SSL)" in first
        for n in (1, 2, 3):
            assert f"node {n} pid " in first
        print(f"\n[cluster] {first.split(':')[0]} (three nodes, SASL_SSL, formatted)")
        client_env = settings.data_dir / "kafka-cluster-3-sasl" / "client.env"
        assert clients == f"clients: the SENTIRIC_* variables in {client_env}"
        assert client_env.stat().st_mode & 0o777 == 0o600
        variables = dict(line.split("=", 1) for line in client_env.read_text().splitlines())
        assert variables["SENTIRIC_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert variables["SENTIRIC_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert variables["SENTIRIC_TOPIC_REPLICATION"] == "3"
        assert Path(variables["SENTIRIC_KAFKA_SSL_CA_FILE"]).is_file()

        status = broker("status")  # without --nodes: it finds the running cluster
        assert status.returncode == 0, status.stdout + status.stderr
        assert "(3 nodes, SASL_SSL) is running" in status.stdout and ", answering: node 1" in status.stdout

        bootstrap = variables["SENTIRIC_KAFKA_BOOTSTRAP"]
        listing = asyncio.run(kcat("-b", bootstrap, *kcat_security(variables), "-L", "-J"))
        brokers = json.loads(listing)["brokers"]
        assert sorted(b["id"] for b in brokers) == [1, 2, 3]
    finally:
        stopped = broker("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("stopped the local Kafka cluster at 127.0.0.1:")
    assert broker("status").returncode == 3


async def test_platform_topics_have_three_replicas_and_a_majority_in_sync(
    secure_cluster: LocalKafkaCluster,
) -> None:
    settings = secure_cluster.client_settings()
    assert settings.topic_replication == 3
    client = client_options(settings)
    specs = topics.platform_topics(partitions=3, calls_retention_ms=3_600_000, node_ids=("edge-c1",))
    await ensure_topics(specs, replication=settings.topic_replication, **client)
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        names = [topics.CALLS, topics.CONFIG, topics.commands_topic("edge-c1")]
        described = await admin.describe_topics(names)
        for topic in described:
            for partition in topic["partitions"]:
                assert sorted(partition["replicas"]) == [1, 2, 3], topic["topic"]
        wanted = [ConfigResource(ConfigResourceType.TOPIC, t) for t in (topics.CALLS, topics.CONFIG)]
        # the broker asked may not know the new topics yet (metadata reaches each node on its own):
        # it answers UNKNOWN_TOPIC_OR_PARTITION with no entries, so ask again until every one is known
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while True:
            (response,) = await admin.describe_configs(wanted)
            errors = [(r[3], r[0], r[1]) for r in response.resources if r[0] != 0]
            if not errors or loop.time() > deadline:
                break
            await asyncio.sleep(0.5)
        assert not errors, errors
        for resource in response.resources:
            entries = {entry[0]: entry[1] for entry in resource[4]}
            assert entries["min.insync.replicas"] == "2", resource[3]
    finally:
        await admin.close()


async def test_the_cluster_refuses_wrong_credentials_plaintext_and_another_ca(
    secure_cluster: LocalKafkaCluster, tmp_path: Path
) -> None:
    good = secure_cluster.client_settings()
    assert await check_access(good)
    wrong = secure_cluster.client_settings(kafka_sasl_password="not-the-password")
    with pytest.raises(LogAccessError, match=r"authentication as 'sentiric' \(SCRAM-SHA-512\) failed"):
        await check_access(wrong)
    plaintext = Settings(kafka_bootstrap=secure_cluster.bootstrap)
    with pytest.raises(LogAccessError, match="another SENTIRIC_KAFKA_SECURITY_PROTOCOL than PLAINTEXT"):
        await check_access(plaintext)
    other_ca = ClusterTls(tmp_path / "other-ca")
    other_ca.ensure([1])
    untrusted = secure_cluster.client_settings(kafka_ssl_ca_file=str(other_ca.ca_file))
    with pytest.raises(LogAccessError, match="TLS certificate is not trusted"):
        await check_access(untrusted)


def hangup(call_id: str, seq: int) -> m.Hangup:
    return m.Hangup(
        event_id=uuid.uuid4(), call_id=call_id, seq=seq, occurred_at=datetime.now(UTC),
        source="failover-test", trace_id=call_id, reason="test",
    )  # fmt: skip


async def leader_of(topic: str, partition: int, client: dict[str, object]) -> int:
    """The partition's leader, once the node answering has the new topic's metadata.

    Creation is acknowledged by the controller; the broker the admin client asks may describe
    the topic with no partitions (or no leader) for a moment after that.
    """
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            (described,) = await admin.describe_topics([topic])
            leaders = [p["leader"] for p in described["partitions"] if p["partition"] == partition]
            if leaders and leaders[0] >= 0:
                return int(leaders[0])
            assert asyncio.get_running_loop().time() < deadline, f"{topic}/{partition} has no leader"
            await asyncio.sleep(0.2)
    finally:
        await admin.close()


async def in_sync(topic: str, client: dict[str, object], replicas: int) -> bool:
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return all(len(p["isr"]) == replicas for p in described["partitions"])
    finally:
        await admin.close()


async def test_an_acks_all_producer_loses_and_duplicates_nothing_when_a_leader_is_killed(
    secure_cluster: LocalKafkaCluster,
) -> None:
    settings = secure_cluster.client_settings()
    client = client_options(settings)
    topic = f"failover-{uuid.uuid4().hex[:8]}"
    partitions = 6
    await ensure_topics([topics.TopicSpec(topic, partitions)], replication=3, **client)
    victim = await leader_of(topic, 0, client)
    keys = [f"call-{i}" for i in range(12)]  # spread over the partitions: some lead on every node

    sent: list[uuid.UUID] = []
    waits: list[tuple[float, float]] = []  # (when it was published, seconds until acknowledged)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    producer = EventProducer(buffer_max=100_000, **client)
    await producer.start()

    async def writer(key: str) -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            record = hangup(key, seq)
            began = loop.time()
            await producer.publish_and_wait(record, topic=topic)
            sent.append(record.event_id)
            waits.append((began, loop.time() - began))
            await asyncio.sleep(0.02)

    writers = [asyncio.create_task(writer(k)) for k in keys]
    try:
        await asyncio.sleep(4)
        killed_at = loop.time()
        assert await asyncio.to_thread(secure_cluster.kill, victim) is not None
        await asyncio.sleep(20)  # failure detection (6 s session), new leaders, then steady writing
        stop.set()
        await asyncio.wait_for(asyncio.gather(*writers), 60)
    finally:
        stop.set()
        for task in writers:
            task.cancel()
        await producer.stop()
    after_kill = [w for t, w in waits if t >= killed_at - 1]
    pause = max(after_kill)
    before = sorted(w for t, w in waits if t < killed_at - 1)
    print(
        f"\n[cluster] acks=all producer, leader of {topic}/0 (node {victim}) killed -9: longest wait "
        f"{pause:.2f} s (median before the kill {before[len(before) // 2] * 1000:.0f} ms); "
        f"{len(sent)} facts acknowledged, {producer.overflowed} refused"
    )
    assert producer.overflowed == 0 and producer.buffered == 0
    assert len([t for t, _ in waits if t > killed_at + 12]) > 50  # writing resumed after the failover

    logged: list[uuid.UUID] = []
    for partition in range(partitions):
        logged += [d.record.event_id for d in await read_partition_until_end(topic, partition, **client)]
    counts = Counter(logged)
    duplicated = [e for e, n in counts.items() if n > 1]
    assert not duplicated, f"{len(duplicated)} facts on the log twice"
    assert set(counts) == set(sent) and len(logged) == len(sent)

    # The killed node comes back and catches up: every partition has three in-sync replicas again.
    secure_cluster.restart(victim)  # on this (the main) thread: see LocalKafkaCluster.start
    deadline = loop.time() + 90
    while not await in_sync(topic, client, 3):
        assert loop.time() < deadline, "the restarted node did not rejoin the ISR"
        await asyncio.sleep(1)
