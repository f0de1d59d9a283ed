"""Produce → consume latency on the local broker at a fixed rate, and the peak rate.

    .venv/bin/python bench/log_latency.py [--rate 1000] [--seconds 10] [--peak 100000]

Starts a private local Kafka on free ports (or uses SENTIRIC_KAFKA_BOOTSTRAP), produces typical call
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

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import models
from schemas.codec import decode
from schemas.envelope import envelope
from sentiric.broker.local_kafka import LocalKafka
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer
from sentiric.eventlog.topics import TopicSpec
from sentiric.net import free_port
from sentiric.settings import Settings


def fact(call_id: str, seq: int) -> models.DtmfReceived:
    return models.DtmfReceived(
        **envelope(call_id, seq=seq, source="bench"), digit="5", duration_ms=100, method="rfc4733"
    )


async def consume(
    bootstrap: str, topic: str, partitions: int, n: int, latencies: list[float] | None
) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, fetch_max_wait_ms=5, enable_auto_commit=False)
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


async def run(bootstrap: str, rate: int, seconds: float, peak: int) -> None:
    partitions = 6
    topic = f"bench.latency.{uuid.uuid4().hex[:6]}"
    await ensure_topics([TopicSpec(topic, partitions)], bootstrap_servers=bootstrap)
    # Warm up first: a freshly started broker's JVM is still compiling its hot paths.
    warm_topic = f"bench.warmup.{uuid.uuid4().hex[:6]}"
    await ensure_topics([TopicSpec(warm_topic, partitions)], bootstrap_servers=bootstrap)
    async with EventProducer(bootstrap_servers=bootstrap, buffer_max=100_000) as producer:
        for i in range(20_000):
            producer.publish(fact(str(uuid.uuid4()), i), topic=warm_topic)
            if i % 1000 == 999:
                await asyncio.sleep(0.05)
    await consume(bootstrap, warm_topic, partitions, 20_000, None)

    n = int(rate * seconds)
    latencies: list[float] = []
    async with EventProducer(bootstrap_servers=bootstrap, buffer_max=100_000) as producer:
        consumer = asyncio.create_task(consume(bootstrap, topic, partitions, n, latencies))
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
    await ensure_topics([TopicSpec(topic, partitions)], bootstrap_servers=bootstrap)
    records = [fact(str(uuid.uuid4()), i) for i in range(peak)]
    async with EventProducer(bootstrap_servers=bootstrap, buffer_max=peak + 1, linger_ms=10) as producer:
        start = time.perf_counter()
        for r in records:
            producer.publish(r, topic=topic)
        await producer.flush()
        produce_s = time.perf_counter() - start
    consume_s = await consume(bootstrap, topic, partitions, peak, None)
    print(
        f"peak: {peak} facts acknowledged in {produce_s:.2f} s = {peak / produce_s:,.0f} events/s produced; "
        f"consumed at {peak / consume_s:,.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--peak", type=int, default=100_000)
    args = parser.parse_args()
    bootstrap = os.environ.get("SENTIRIC_KAFKA_BOOTSTRAP")
    broker = None
    if not bootstrap:
        home = Path(tempfile.mkdtemp(prefix="sentiric-bench-"))
        broker = LocalKafka(Settings(home=home, kafka_port=free_port(), kafka_controller_port=free_port()))
        broker.start(detach=False)
        bootstrap = broker.bootstrap
    try:
        asyncio.run(run(bootstrap, args.rate, args.seconds, args.peak))
    finally:
        if broker:
            broker.stop()


if __name__ == "__main__":
    main()
