"""The log client against the real local Kafka: every record type round trips; dead letters; buffering."""

import asyncio
import dataclasses
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import models
from schemas.codec import encode
from schemas.samples import all_samples, sample
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics, partition_count
from sentiric.eventlog.consumer import DeadLetters, decoded_stream, partition_for, read_partition_until_end
from sentiric.eventlog.producer import BufferFull, EventProducer, record_key
from sentiric.eventlog.topics import TopicSpec


def unique(name: str) -> str:
    return f"test.{name}.{uuid.uuid4().hex[:8]}"


async def test_every_record_type_is_produced_and_consumed_back_equal(kafka):
    topic = unique("all-types")
    await ensure_topics([TopicSpec(topic, 1)], bootstrap_servers=kafka)
    records = all_samples(call_id=str(uuid.uuid4()))
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for record in records:
            producer.publish(record, topic=topic)
        await producer.flush()
        assert producer.published == len(records)
    back = await read_partition_until_end(topic, 0, bootstrap_servers=kafka)
    assert [d.record for d in back] == records
    assert [d.offset for d in back] == list(range(len(records)))


async def test_call_records_are_keyed_by_call_id_and_land_on_its_partition(kafka):
    topic = unique("keyed")
    await ensure_topics([TopicSpec(topic, 6)], bootstrap_servers=kafka)
    call_id = str(uuid.uuid4())
    facts = [sample(models.DtmfReceived, call_id, n) for n in range(1, 6)]
    async with EventProducer(bootstrap_servers=kafka) as producer:
        for fact in facts:
            producer.publish(fact, topic=topic)
    assert record_key(facts[0]) == call_id
    part = partition_for(call_id, 6)
    back = await read_partition_until_end(topic, part, bootstrap_servers=kafka)
    assert [d.record for d in back] == facts  # one call's facts, totally ordered


async def test_platform_topics_are_created_with_compaction_for_config(kafka):
    # The broker is shared by the session: other tests may have created the platform topics already
    # (with their own partition counts), so only what this call creates is checked for its count;
    # the command topic of a node no one else uses is always among it.
    node = f"edge-{uuid.uuid4().hex[:8]}"
    specs = topics.platform_topics(partitions=3, calls_retention_ms=3_600_000, node_ids=(node,))
    created = await ensure_topics(specs, bootstrap_servers=kafka)
    assert f"sentiric.commands.{node}" in created
    assert await ensure_topics(specs, bootstrap_servers=kafka) == []  # idempotent
    for spec in specs:
        if spec.name in created:
            assert await partition_count(spec.name, bootstrap_servers=kafka) == spec.partitions
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topics.CONFIG)])
        entries = {e[0]: e[1] for e in described[0].resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_a_long_spoken_reply_fits_on_the_call_topic(kafka):
    """90 s of 16 kHz speech (2.9 MB, over Kafka's 1 MiB default) with the call topic's configuration."""
    (calls,) = [
        s
        for s in topics.platform_topics(partitions=1, calls_retention_ms=3_600_000)
        if s.name == topics.CALLS
    ]
    topic = unique("long-reply")
    await ensure_topics([TopicSpec(topic, 1, calls.config)], bootstrap_servers=kafka)
    speech = sample(models.SpeechSynthesized, str(uuid.uuid4()), 1)
    pcm = bytes(range(256)) * (90 * 32_000 // 256)
    long_reply = dataclasses.replace(speech, pcm=pcm, sample_rate=16_000)
    async with EventProducer(bootstrap_servers=kafka) as producer:
        producer.publish(long_reply, topic=topic)
        await producer.flush()
        assert producer.published == 1
    back = await read_partition_until_end(topic, 0, bootstrap_servers=kafka)  # default fetch sizes
    assert [d.record for d in back] == [long_reply]


async def test_a_corrupt_message_goes_to_the_dead_letter_topic_and_the_consumer_keeps_going(kafka):
    topic = unique("calls")
    await ensure_topics([TopicSpec(topic, 1), TopicSpec(topics.DEADLETTER, 1)], bootstrap_servers=kafka)
    good_before = sample(models.CallEstablished, str(uuid.uuid4()), 1)
    good_after = sample(models.CallEnded, good_before.call_id, 2)
    corrupt = encode(good_after)[:-3]  # truncated body
    async with EventProducer(bootstrap_servers=kafka) as producer:
        producer.publish(good_before, topic=topic)
        producer.publish_raw(topic, b"k", corrupt)
        producer.publish_raw(topic, b"k", b"not avro at all")
        producer.publish(good_after, topic=topic)

    dlq_end = await _end_offset(kafka, topics.DEADLETTER)
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest")
    await consumer.start()
    seen = []
    async with EventProducer(bootstrap_servers=kafka) as dlq_producer:
        dead = DeadLetters(dlq_producer, "test-consumer")
        async for decoded in decoded_stream(consumer, dead_letters=dead):
            seen.append(decoded.record)
            if len(seen) == 2:
                break
        await consumer.stop()
    assert seen == [good_before, good_after]

    parked = AIOKafkaConsumer(bootstrap_servers=kafka)
    await parked.start()
    try:
        tp = TopicPartition(topics.DEADLETTER, 0)
        parked.assign([tp])
        parked.seek(tp, dlq_end)
        msgs = []
        while len(msgs) < 2:
            batch = await parked.getmany(tp, timeout_ms=5000)
            msgs += batch.get(tp, [])
    finally:
        await parked.stop()
    assert [m.value for m in msgs] == [corrupt, b"not avro at all"]
    headers = dict(msgs[0].headers)
    assert headers[topics.DLQ_TOPIC] == topic.encode()
    assert headers[topics.DLQ_PARTITION] == b"0"
    assert headers[topics.DLQ_OFFSET] == b"1"
    assert b"corrupt" in headers[topics.DLQ_ERROR]
    assert dict(msgs[1].headers)[topics.DLQ_OFFSET] == b"2"


async def test_publish_never_waits_and_a_full_buffer_is_counted(kafka):
    producer = EventProducer(bootstrap_servers=kafka, buffer_max=3)  # not started: nothing drains
    fact = sample(models.CallEstablished)
    for _ in range(3):
        producer.publish(fact)
    assert producer.fill_ratio == 1.0
    with pytest.raises(BufferFull):
        producer.publish(fact)
    assert producer.overflowed == 1
    await producer.start()  # now it drains what it accepted
    await asyncio.wait_for(producer.flush(), 30)
    assert producer.published == 3 and producer.buffered == 0
    await producer.stop()


async def _end_offset(kafka: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return (await consumer.end_offsets([tp]))[tp]
    finally:
        await consumer.stop()
