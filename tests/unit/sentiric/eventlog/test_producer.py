"""The producer's drain loop against a fake aiokafka producer: a round whose batches partly fail sends
again only what the log did not acknowledge (the real broker's failover is in the cluster tests); every
wait for the log ends — at the caller's deadline, at once when the sender task is dead, and at close."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaError, NotLeaderForPartitionError

from schemas import models as m
from schemas.codec import decode
from sentiric.eventlog.consumer import partition_for
from sentiric.eventlog.producer import EventProducer, FlushTimeout, SenderStopped


class FakeBatch:
    def __init__(self) -> None:
        self.records: list[bytes] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: Any, headers: Any) -> object:
        assert value is not None
        self.records.append(value)
        return object()

    def close(self) -> None:
        pass


class FakeKafka:
    """Acknowledges every batch except those of `failing` partitions, which fail `times` times."""

    def __init__(self, failing: set[int], times: int, error: KafkaError) -> None:
        self.failing = failing
        self.left = dict.fromkeys(failing, times)
        self.error = error
        self.log: list[bytes] = []  # what the "broker" acknowledged

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self.left.get(partition, 0) > 0:
            self.left[partition] -= 1
            future.set_exception(self.error)
        else:
            self.log.extend(batch.records)
            future.set_result(None)
        return future

    async def stop(self) -> None:
        pass


def hangup(call_id: str) -> m.Hangup:
    return m.Hangup(
        event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC),
        source="unit", trace_id=call_id, reason="x",
    )  # fmt: skip


async def drain_with(fake: FakeKafka, records: list[m.Hangup]) -> EventProducer:
    producer = EventProducer(bootstrap_servers="127.0.0.1:1")
    producer._producer = fake  # type: ignore[assignment]  # the seam: aiokafka's producer
    producer._task = asyncio.create_task(producer._drain())
    for record in records:
        producer.publish(record, topic="t")
    await asyncio.wait_for(producer.flush(), 10)
    await producer.stop()
    return producer


async def test_a_failed_partition_is_sent_again_without_duplicating_the_others() -> None:
    keys = [f"call-{i}" for i in range(30)]
    assert {partition_for(k, 3) for k in keys} == {0, 1, 2}
    records = [hangup(k) for k in keys]
    fake = FakeKafka(failing={1}, times=2, error=NotLeaderForPartitionError())
    producer = await drain_with(fake, records)
    counts = Counter(decode(v).event_id for v in fake.log)
    assert set(counts) == {r.event_id for r in records}
    assert max(counts.values()) == 1  # the partitions that went through were not sent again
    assert producer.published == len(records) and producer.buffered == 0


async def test_order_within_a_partition_survives_the_retries() -> None:
    records = [hangup("one-call") for _ in range(20)]  # one key: one partition, in order
    fake = FakeKafka(failing={partition_for("one-call", 3)}, times=3, error=KafkaConnectionError())
    await drain_with(fake, records)
    assert [decode(v).event_id for v in fake.log] == [r.event_id for r in records]


class DeadKafka(FakeKafka):
    """A broker that is away: every batch fails until `recover()`."""

    def __init__(self) -> None:
        super().__init__(failing=set(), times=0, error=KafkaConnectionError())
        self.down = True

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        if self.down:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(self.error)
            return future
        return await super().send_batch(batch, topic, partition=partition)


async def test_an_outage_keeps_facts_up_to_the_byte_bound_and_names_what_it_drops() -> None:
    from sentiric.eventlog.producer import BufferFull

    fake = DeadKafka()
    producer = EventProducer(bootstrap_servers="127.0.0.1:1", buffer_max_bytes=4000)
    producer._producer = fake  # type: ignore[assignment]
    producer._task = asyncio.create_task(producer._drain())
    kept: list[m.Hangup] = []
    dropped = 0
    for i in range(200):
        record = hangup(f"call-{i % 7}")
        try:
            producer.publish(record, topic="t")
            kept.append(record)
        except BufferFull:
            dropped += 1
    assert kept and dropped  # some kept, the rest refused: the bound is in bytes, not records
    one = producer.dropped_bytes / dropped  # every record here has the same size
    assert producer.buffered_bytes <= 4000 < producer.buffered_bytes + one  # full: the next would not fit
    assert producer.overflowed == dropped and producer.fill_ratio > 0.9
    await asyncio.sleep(0.5)  # the drain loop retries against the dead broker meanwhile
    fake.down = False  # the broker is back: every kept fact reaches the log, once
    await asyncio.wait_for(producer.flush(), 10)
    await producer.stop()
    counts = Counter(decode(v).event_id for v in fake.log)
    assert set(counts) == {r.event_id for r in kept} and max(counts.values()) == 1
    assert producer.buffered_bytes == 0 and producer.fill_ratio == 0


class SilentKafka(FakeKafka):
    """Takes every batch and never acknowledges it (a log that is away) until `ack_all()`; its `stop()`
    waits, like aiokafka's, until every batch it holds is settled."""

    def __init__(self) -> None:
        super().__init__(failing=set(), times=0, error=KafkaConnectionError())
        self.held: list[tuple[asyncio.Future[Any], FakeBatch]] = []
        self._message_accumulator = self  # the seam `EventProducer._close_client` fails batches through

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.held.append((future, batch))
        return future

    def ack_all(self) -> None:
        for future, batch in self.held:
            if not future.done():
                self.log.extend(batch.records)
                future.set_result(None)

    def fail_all(self, exception: BaseException) -> None:
        for future, _ in self.held:
            if not future.done():
                future.set_exception(exception)

    async def stop(self) -> None:
        await asyncio.gather(*(f for f, _ in self.held), return_exceptions=True)


class BrokenKafka(FakeKafka):
    """Fails every batch with an error that is not a KafkaError: the sender task dies of it."""

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_exception(RuntimeError("boom"))
        return future


def started(fake: FakeKafka) -> EventProducer:
    producer = EventProducer(bootstrap_servers="127.0.0.1:1")
    producer._producer = fake  # type: ignore[assignment]
    producer._task = asyncio.create_task(producer._drain())
    producer._task.add_done_callback(producer._sender_ended)
    return producer


async def test_flush_raises_at_once_when_the_sender_task_died() -> None:
    producer = started(BrokenKafka(failing=set(), times=0, error=KafkaConnectionError()))
    producer.publish(hangup("c1"), topic="t")
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(SenderStopped, match="sender task died: RuntimeError\\('boom'\\)") as caught:
        await asyncio.wait_for(producer.flush(), 10)  # no deadline of its own: the dead task ends it
    assert caught.value.buffered == 1
    # Later calls do not wait either: the task is already dead.
    with pytest.raises(SenderStopped):
        await asyncio.wait_for(producer.publish_and_wait(hangup("c2"), topic="t"), 1)
    assert loop.time() - began < 5
    await asyncio.wait_for(producer.stop(flush_timeout=1, close_timeout=1), 10)


async def test_flush_before_start_raises() -> None:
    producer = EventProducer(bootstrap_servers="127.0.0.1:1")
    producer.publish(hangup("c1"), topic="t")
    with pytest.raises(SenderStopped, match="not started"):
        await asyncio.wait_for(producer.flush(), 1)
    await asyncio.wait_for(producer.stop(flush_timeout=1, close_timeout=1), 10)


async def test_publish_and_wait_gives_up_after_its_deadline_and_the_record_may_still_land() -> None:
    fake = SilentKafka()
    producer = started(fake)
    record = hangup("c1")
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(FlushTimeout, match=r"did not acknowledge within 0\.3 s") as caught:
        await asyncio.wait_for(producer.publish_and_wait(record, topic="t", within_s=0.3), 10)
    assert 0.25 <= loop.time() - began < 5  # its deadline, not a hang
    assert caught.value.buffered == 1 and producer.buffered == 1  # still buffered, still retried
    fake.ack_all()  # the log comes back: the record the caller gave up on is written after all
    await asyncio.wait_for(producer.flush(), 10)
    assert [decode(v).event_id for v in fake.log] == [record.event_id]
    await producer.stop()


async def test_stop_is_bounded_when_the_log_never_acknowledges() -> None:
    fake = SilentKafka()
    producer = started(fake)
    producer.publish(hangup("c1"), topic="t")
    await asyncio.wait_for(producer.stop(flush_timeout=0.2, close_timeout=0.2), 10)
    assert fake.log == [] and producer.buffered == 1


async def test_two_flushes_and_a_publish_in_between_never_time_out_early() -> None:
    """Two writers wait for the log; the first woken publishes again (clearing the idle flag) before the
    second resumes: the second waits on until the log is idle, instead of reporting a timeout at once
    (the API's admin write failing 503 while the sample actions were being created)."""
    fake = FakeKafka(failing=set(), times=0, error=KafkaConnectionError())
    producer = started(fake)  # type: ignore[arg-type]
    order: list[str] = []

    async def first() -> None:
        producer.publish(hangup("a1"), topic="t")
        await producer.flush()
        producer.publish(hangup("a2"), topic="t")  # woken first: publishes again at once
        order.append("first")

    async def second() -> None:
        producer.publish(hangup("b1"), topic="t")
        await producer.flush(within_s=5)  # raised FlushTimeout at once before the fix
        order.append("second")

    await asyncio.wait_for(asyncio.gather(first(), second()), 10)
    await asyncio.wait_for(producer.flush(), 10)
    assert sorted(order) == ["first", "second"] and len(fake.log) == 3
    await producer.stop()
