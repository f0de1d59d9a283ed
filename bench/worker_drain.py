"""What one streams worker carries: greeting-only calls per second, facts per second, backlog drain rate.

Starts a private local Kafka and one streams worker (`python -m streams.app`: Whisper base, knowledge
base, espeak-ng, as `sentiric worker` runs it), then writes call facts straight onto `sentiric.calls`
as an edge would (no SIP, no media: the worker's side alone):

1. capacity — ``--calls`` calls set up at once (CallInviteReceived … CallEstablished, dialplan
   ``agent``), none ended: the worker greets every one (AgentReplied → espeak-ng → SpeechSynthesized →
   the PlayAudio command to the edge). Reported: greeting-only calls/s (PlayAudio commands per second
   from the first fact to the last command) and the call-topic records per second the worker got
   through meanwhile (the facts it read, and its own replies, all read by its five call agents).
2. drain — ``--backlog`` calls that ended at once (setup then CallEnded, 1-second calls of a surge
   long over): the worker skips their speech work (`streams.skip`). Reported: records per second from
   the backlog's first record until the worker's heartbeat says lag 0.

    .venv/bin/python bench/worker_drain.py [--calls 200] [--backlog 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the e2e harness lives with the tests

from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402
from voice_latency import machine_cache  # noqa: E402 - bench/ is the script's directory

from edge import call_facts as cf  # noqa: E402
from edge.facts import FactRecorder  # noqa: E402
from schemas import models as m  # noqa: E402
from schemas.codec import CodecError, decode  # noqa: E402
from sentiric.broker.local_kafka import LocalKafka  # noqa: E402
from sentiric.eventlog.admin import ensure_topics  # noqa: E402
from sentiric.eventlog.producer import EventProducer  # noqa: E402
from sentiric.eventlog.topics import CALLS, WORKERS, commands_topic, platform_topics  # noqa: E402
from sentiric.net import free_port  # noqa: E402
from sentiric.settings import Settings  # noqa: E402
from tests.integration.e2e.stack import PARTITIONS, Worker  # noqa: E402

NODE = "edge-drain"


def set_up(rec: FactRecorder, call_id: str) -> None:
    rec.record(cf.call_invite_received(
        call_id, sip_call_id=call_id, from_uri="sip:b@127.0.0.1",
        to_uri="sip:100@127.0.0.1", caller="b", callee="100", remote_addr="udp:127.0.0.1:5062",
        transport="udp",
    ))  # fmt: skip
    rec.record(cf.dialplan_resolved(call_id, dialplan_id="default", action="agent"))
    rec.record(cf.media_port_allocated(call_id, rtp_port=20000, local_address="127.0.0.1"))
    rec.record(cf.call_answered(call_id, codec="PCMU", payload_type=0, sdp_answer="v=0"))
    rec.record(cf.call_established(call_id))


def end(rec: FactRecorder, call_id: str) -> None:
    rec.record(cf.call_ended(call_id, reason="normal", hangup_by="caller", sip_status=200, total_ms=1000))


async def end_offsets(bootstrap: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(CALLS, p) for p in range(PARTITIONS)]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


class Follow:
    """Commands to our edge (PlayAudio count) and the newest heartbeat per worker."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.plays: list[float] = []
        self.beats: dict[str, Any] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            commands_topic(NODE), WORKERS, bootstrap_servers=self.bootstrap, auto_offset_reset="latest",
            fetch_max_wait_ms=50,
        )  # fmt: skip
        await consumer.start()
        self._task = asyncio.create_task(self._run(consumer))

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        try:
            async for msg in consumer:
                try:
                    record = decode(msg.value) if msg.value else None
                except CodecError:
                    continue
                if isinstance(record, m.PlayAudio):
                    self.plays.append(time.monotonic())
                elif isinstance(record, m.WorkerHeartbeat):
                    self.beats[record.worker_id] = (time.monotonic(), record)
        finally:
            await consumer.stop()

    def lag(self, since: float) -> int | None:
        fresh = [b for at, b in self.beats.values() if at > since]
        return sum(b.lag for b in fresh) if fresh else None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def until(predicate: Any, within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {within_s} s")
        await asyncio.sleep(0.05)


async def run(calls: int, backlog: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="sentiric-drain-") as tmp:
        workdir = Path(tmp)
        cache = machine_cache()
        settings = Settings(
            home=workdir / "kafka",
            cache_home=cache,
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
        )
        broker = LocalKafka(settings)
        broker.start(detach=False)
        worker = Worker(broker.bootstrap, workdir / "worker", cache, SENTIRIC_STREAMS_OFFSET_RESET="latest")
        follow = Follow(broker.bootstrap)
        try:
            specs = platform_topics(partitions=PARTITIONS, calls_retention_ms=3_600_000, node_ids=(NODE,))
            await ensure_topics(specs, bootstrap_servers=broker.bootstrap)
            await follow.start()
            worker.start()
            await worker.ready()
            await until(lambda: follow.lag(0) == 0, 60, "first heartbeat")
            out: dict[str, float] = {}
            async with EventProducer(bootstrap_servers=broker.bootstrap) as producer:
                rec = FactRecorder(producer, NODE)
                ids = [str(uuid.uuid4()) for _ in range(calls)]
                before = await end_offsets(broker.bootstrap)
                t0 = time.monotonic()
                for call_id in ids:
                    set_up(rec, call_id)
                await producer.flush()
                await until(lambda: len(follow.plays) >= calls, 600, f"{calls} greetings")
                elapsed = follow.plays[calls - 1] - t0
                records = await end_offsets(broker.bootstrap) - before
                out["greeting_calls_per_s"] = calls / elapsed
                out["capacity_records_per_s"] = records / elapsed
                out["capacity_elapsed_s"] = elapsed
                for call_id in ids:
                    end(rec, call_id)
                await producer.flush()
                settle = time.monotonic()
                await until(lambda: follow.lag(settle + 1.0) == 0, 120, "capacity phase settled")

                before = await end_offsets(broker.bootstrap)
                t0 = time.monotonic()
                for n in range(backlog):
                    call_id = str(uuid.uuid4())
                    set_up(rec, call_id)
                    end(rec, call_id)
                    if n % 500 == 499:  # the producer's buffer is bounded
                        await producer.flush()
                await producer.flush()
                written = time.monotonic()
                await until(lambda: follow.lag(written + 1.0) == 0, 600, "backlog drained")
                drained = time.monotonic()
                records = await end_offsets(broker.bootstrap) - before
                skipped = max((b.skipped for _, b in follow.beats.values()), default=0)
                out["drain_records"] = records
                out["drain_records_per_s"] = records / (drained - t0)
                out["drain_calls_per_s"] = backlog / (drained - t0)
                out["drain_s"] = drained - t0
                out["skipped_total"] = skipped
            return out
        finally:
            await follow.stop()
            worker.stop()
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=2000)
    args = parser.parse_args()
    result = asyncio.run(run(args.calls, args.backlog))
    print(f"capacity: {args.calls} greeting-only calls set up at once")
    print(f"  greeting-only calls/s      {result['greeting_calls_per_s']:8.1f}")
    print(f"  call-topic records/s       {result['capacity_records_per_s']:8.0f}")
    print(f"drain: {args.backlog} calls already ended ({result['drain_records']:.0f} records)")
    print(f"  records/s                  {result['drain_records_per_s']:8.0f}")
    print(f"  calls/s                    {result['drain_calls_per_s']:8.0f}")
    print(f"  to lag 0                   {result['drain_s']:8.1f} s")
    print(f"  speech work skipped        {result['skipped_total']:8.0f}")


if __name__ == "__main__":
    main()
