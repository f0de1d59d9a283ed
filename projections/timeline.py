"""One call's decoded timeline, read from the log through the CDR's stored position.

Facts: only the call's partition, only `[first_offset, last_offset]` — no scan of the topic.
Commands (other producers, no stored offsets): the same-numbered partition of every
`<commands_prefix>*` topic, from the offset of the INVITE time (minus a minute of clock skew) to the
current end. The two are merged exactly as `sentiric replay call` does (`consumer.merge_timeline`),
and printed in its `--json` form, so the endpoint and the CLI agree.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from schemas.codec import Codec, default_codec, to_json_dict
from sentiric.eventlog.consumer import Decoded, decode_message, merge_timeline, partition_for

CLOCK_SKEW = timedelta(minutes=1)
READ_ONE_WAIT_MS = 50


async def _read_range(
    consumer: AIOKafkaConsumer, tp: TopicPartition, start: int, stop: int, call_id: str, codec: Codec
) -> list[Decoded]:
    """Records of `call_id` at offsets [start, stop) of one partition."""
    out: list[Decoded] = []
    if stop <= start:
        return out
    consumer.assign([tp])
    consumer.seek(tp, start)
    while await consumer.position(tp) < stop:
        batch = await consumer.getmany(tp, timeout_ms=1000, max_records=2000)
        for msg in batch.get(tp, []):
            if msg.offset >= stop:
                break
            decoded = decode_message(msg, codec, None)
            if decoded is not None and getattr(decoded.record, "call_id", None) == call_id:
                out.append(decoded)
    return out


async def read_commands(
    call_id: str, since: datetime | None, prefix: str, codec: Codec, client: dict[str, Any]
) -> list[Decoded]:
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        names = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    counts = {d["topic"]: len(d["partitions"]) for d in described if d["partitions"]}
    out: list[Decoded] = []
    for topic, n in counts.items():
        tp = TopicPartition(topic, partition_for(call_id, n))
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **client)
        await consumer.start()
        try:
            end = (await consumer.end_offsets([tp]))[tp]
            start = 0
            if since is not None:
                found = await consumer.offsets_for_times({tp: int((since - CLOCK_SKEW).timestamp() * 1000)})
                start = found[tp].offset if found.get(tp) is not None else end
            else:
                start = (await consumer.beginning_offsets([tp]))[tp]
            out += await _read_range(consumer, tp, start, end, call_id, codec)
        finally:
            await consumer.stop()
    return out


async def call_timeline(
    position: Any,
    *,
    client: dict[str, Any],
    commands_prefix: str | None,
    codec: Codec | None = None,
) -> list[Decoded]:
    """`position` is the CDR row (call_id, log_topic, log_partition, first_offset, last_offset,
    invite_at); `commands_prefix` None leaves the commands out."""
    codec = codec or default_codec()
    call_id = position["call_id"]
    facts: list[Decoded] = []
    if position["log_topic"] is not None:
        consumer = AIOKafkaConsumer(enable_auto_commit=False, **client)
        await consumer.start()
        try:
            tp = TopicPartition(position["log_topic"], position["log_partition"])
            begin = (await consumer.beginning_offsets([tp]))[tp]
            facts = await _read_range(
                consumer,
                tp,
                max(begin, position["first_offset"]),
                position["last_offset"] + 1,
                call_id,
                codec,
            )
        finally:
            await consumer.stop()
    commands: list[Decoded] = []
    if commands_prefix is not None:
        commands = await asyncio.wait_for(
            read_commands(call_id, position["invite_at"], commands_prefix, codec, client), 30
        )
    return merge_timeline(facts, commands)


def timeline_json(decoded: Decoded, *, include_audio: bool = False) -> dict[str, Any]:
    """The same object `sentiric replay call --json` prints for the record."""
    obj = to_json_dict(decoded.record, include_audio=include_audio)
    obj["log"] = {"topic": decoded.topic, "partition": decoded.partition, "offset": decoded.offset}
    return obj


async def read_record(
    tp: TopicPartition, offset: int, *, client: dict[str, Any], codec: Codec | None = None
) -> Decoded | None:
    """The decoded record at exactly `offset` of one partition; None when that offset holds none (gone
    with retention, a transaction marker, past the end) or it does not decode."""
    codec = codec or default_codec()
    # One record wanted: a fetch that finds it returns at once; the short wait only bounds a fetch
    # the broker answers empty (aiokafka's default is half a second, felt on every audio request).
    consumer = AIOKafkaConsumer(enable_auto_commit=False, fetch_max_wait_ms=READ_ONE_WAIT_MS, **client)
    await consumer.start()
    try:
        consumer.assign([tp])
        begin = (await consumer.beginning_offsets([tp]))[tp]
        end = (await consumer.end_offsets([tp]))[tp]
        if not begin <= offset < end:
            return None
        consumer.seek(tp, offset)
        while await consumer.position(tp) <= offset:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
            for msg in batch.get(tp, []):
                return decode_message(msg, codec, None) if msg.offset == offset else None
        return None
    finally:
        await consumer.stop()
