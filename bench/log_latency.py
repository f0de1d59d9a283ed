"""Produce → consume latency on the local broker at a fixed rate, and the peak rate.

    .venv/bin/python bench/log_latency.py [--rate 1000] [--seconds 10] [--peak 100000]
    .venv/bin/python bench/log_latency.py --nodes 3 --secure    # on a local SASL_SSL 3-node cluster

Starts a private local Kafka on free ports (`--nodes 3`: a three-node cluster, replication 3 and
min ISR 2; `--secure`: SASL_SSL/SCRAM with a private CA), or uses SENTIRIC_KAFKA_BOOTSTRAP with the
`SENTIRIC_KAFKA_*` security settings (`client_options`, as every Sentiric process), produces typical call
facts through `EventProducer` (idempotent, acks=all) at `--rate` events/s, consumes them with a plain
aiokafka consumer, and reports latency = consumer receive time minus the fact's `occurred_at` (same clock).
Then produces `--peak` facts as fast as the producer accepts them and reports the acknowledged and the
consumed events/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import models
from schemas.codec import decode
from schemas.envelope import envelope
from sentiric.broker.cluster import free_base_ports, local_broker
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import TopicSpec
from sentiric.settings import Settings


def fact(call_id: str, seq: int) -> models.DtmfReceived:
    return models.DtmfReceived(
        **envelope(call_id, seq=seq, source="bench"), digit="5", duration_ms=100, method="rfc4733"
    )


async def consume(
    client: dict[str, Any], topic: str, partitions: int, n: int, latencies: list[float] | None
) -> float:
    consumer = AIOKafkaConsumer(fetch_max_wait_ms=5, enable_auto_commit=False, **client)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    got, first = 0, None
    try:
        while got < n:
            batches = await consumer.getmany(timeout_ms=200, max_records=10_000)
            now = datetime.now(UTC)
            for msgs in batches.values():
                for msg in msgs:
                    if first is None:
                        first = time.perf_counter()
                    if latencies is not None:
                        latencies.append((now - decode(msg.value).occurred_at).total_seconds() * 1000)
                    got += 1
    finally:
        await consumer.stop()
    return time.perf_counter() - (first or time.perf_counter())


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 10) - 1] if len(values) > 1 else values[0]


async def run(client: dict[str, Any], replication: int, rate: int, seconds: float, peak: int) -> None:
    partitions = 6
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    await ensure_topics([TopicSpec(topic, partitions)], replication=replication, **client)
    # Warm up first: a freshly started broker's JVM is still compiling its hot paths.
    warm_topic = f"bench.warmup.{uuid.uuid4().hex[:6]}"
    await ensure_topics([TopicSpec(warm_topic, partitions)], replication=replication, **client)
    async with EventProducer(**client, buffer_max=100_000) as producer:
        for i in range(20_000):
            producer.publish(fact(str(uuid.uuid4()), i), topic=warm_topic)
            if i % 1000 == 999:
                await asyncio.sleep(0.05)
    await consume(client, warm_topic, partitions, 20_000, None)

    n = int(rate * seconds)
    latencies: list[float] = []
    async with EventProducer(**client, buffer_max=100_000) as producer:
        consumer = asyncio.create_task(consume(client, topic, partitions, n, latencies))
        await asyncio.sleep(1.0)  # let the consumer join
        calls = [str(uuid.uuid4()) for _ in range(50)]
        start = time.perf_counter()
        for i in range(n):
            target = start + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            producer.publish(fact(calls[i % 50], i), topic=topic)
        await producer.flush()
        await consumer
    print(
        f"produce → consume latency at {rate} events/s for {seconds:.0f} s ({n} facts, acks=all, idempotent):"
    )
    print(
        f"  p50 {pct(latencies, 50):.1f} ms   p99 {pct(latencies, 99):.1f} ms   max {max(latencies):.1f} ms"
    )

    topic = f"bench.peak.{uuid.uuid4().hex[:6]}"
    await ensure_topics([TopicSpec(topic, partitions)], replication=replication, **client)
    records = [fact(str(uuid.uuid4()), i) for i in range(peak)]
    async with EventProducer(**client, buffer_max=peak + 1, linger_ms=10) as producer:
        start = time.perf_counter()
        for r in records:
            producer.publish(r, topic=topic)
        await producer.flush()
        produce_s = time.perf_counter() - start
    consume_s = await consume(client, topic, partitions, peak, None)
    print(
        f"peak: {peak} facts acknowledged in {produce_s:.2f} s = {peak / produce_s:,.0f} events/s produced; "
        f"consumed at {peak / consume_s:,.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--peak", type=int, default=100_000)
    parser.add_argument("--nodes", type=int, default=1, choices=(1, 3, 5), help="a local cluster of N nodes")
    parser.add_argument("--secure", action="store_true", help="the local Kafka speaks SASL_SSL")
    args = parser.parse_args()
    broker = None
    if os.environ.get("SENTIRIC_KAFKA_BOOTSTRAP"):
        settings = Settings()
    else:
        home = Path(tempfile.mkdtemp(prefix="sentiric-bench-"))
        port, controller = free_base_ports(args.nodes, secure=args.secure)
        local = Settings(
            home=home, kafka_port=port, kafka_controller_port=controller, kafka_nodes=args.nodes,
            kafka_security_protocol="SASL_SSL" if args.secure else "PLAINTEXT",
        )  # fmt: skip
        broker = local_broker(local)
        broker.start(detach=False)
        settings = local
    protocol, replicas = settings.kafka_security_protocol, settings.topic_replication
    print(f"log {settings.bootstrap_servers} ({protocol}), {replicas} replica(s)")
    try:
        asyncio.run(
            run(client_options(settings), settings.topic_replication, args.rate, args.seconds, args.peak)
        )
    finally:
        if broker:
            broker.stop()


if __name__ == "__main__":
    main()
