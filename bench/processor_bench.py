"""How fast a user's stream processor reads the log: the hourly intents example on a day of calls.

Starts a private local Kafka, puts ``--calls`` synthetic calls (`projections.synthetic`, replies with
intents) on `sentiric.calls`, then runs `sentiric processor run examples.hourly_intents:intents` as a
subprocess, as a user would. Reported: the seconds from the process's start to its first output
(Python, Faust and the group join), and the facts per second it got through from its first output to
the moment its output was complete (the output messages' log timestamps).

    .venv/bin/python bench/processor_bench.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the test harness's helpers live with the tests

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from voice_latency import machine_cache  # noqa: E402 - bench/ is the script's directory

from examples.hourly_intents import OUTPUT  # noqa: E402
from projections.synthetic import day_of_calls, interleaved  # noqa: E402
from sentiric.broker.local_kafka import LocalKafka  # noqa: E402
from sentiric.eventlog.admin import ensure_topics  # noqa: E402
from sentiric.eventlog.producer import EventProducer  # noqa: E402
from sentiric.eventlog.topics import platform_topics  # noqa: E402
from sentiric.net import free_port  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from tests.integration.e2e.stack import PARTITIONS  # noqa: E402
from tests.integration.examples.processes import ProcessorProcess  # noqa: E402
from tests.integration.examples.test_hourly_intents import (  # noqa: E402
    exists,
    expected,
    normalized,
    with_intents,
)


async def output_messages(kafka: str) -> list[Any]:
    if not await exists(kafka, OUTPUT):
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    out: list[Any] = []
    try:
        tp = TopicPartition(OUTPUT, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        await consumer.seek_to_beginning(tp)
        while await consumer.position(tp) < end:
            out.extend((await consumer.getmany(tp, timeout_ms=1000)).get(tp, []))
    finally:
        await consumer.stop()
    return out


async def bench(kafka: str, calls: int, home: Path) -> None:
    await ensure_topics(
        platform_topics(partitions=PARTITIONS, calls_retention_ms=7 * 86_400_000), bootstrap_servers=kafka
    )
    facts = with_intents(interleaved(day_of_calls(calls, seed=3)))
    want = normalized(expected(facts))
    async with EventProducer(bootstrap_servers=kafka, buffer_max=len(facts) + 10) as producer:
        for fact in facts:
            producer.publish(fact)
    processor = ProcessorProcess("examples.hourly_intents:intents", kafka, home, machine_cache())
    started = time.time()
    processor.start()
    try:
        while True:
            msgs = await output_messages(kafka)
            latest = {m.key.decode(): json.loads(m.value) for m in msgs}
            if normalized(latest) == want:
                break
            if not processor.alive():
                raise SystemExit(processor.tail())
            await asyncio.sleep(0.5)
    finally:
        processor.stop()
    first, last = msgs[0].timestamp / 1000, max(m.timestamp for m in msgs) / 1000
    print(f"calls {calls}, facts {len(facts)}, partitions {PARTITIONS}")
    print(f"start to first output: {first - started:.1f} s")
    print(f"facts/s while counting: {len(facts) / max(last - first, 1e-3):,.0f} ({last - first:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="processor-bench-") as tmp:
        home = Path(tmp)
        settings = Settings(
            home=home / "kafka",
            cache_home=machine_cache(),
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
        )
        broker = LocalKafka(settings)
        broker.start(detach=False)
        try:
            asyncio.run(bench(broker.bootstrap, args.calls, home / "processor"))
        finally:
            broker.stop()


if __name__ == "__main__":
    main()
