"""Where a fresh consumer group starts on the call topic: ``max_age_s`` ago.

Faust starts a group that has no committed offsets at ``consumer_auto_offset_reset``: ``latest``
skipped every call placed before the group's first assignment (on a fresh ``make run`` the first call
was answered and silent for all of its 12 s, issue 11), ``earliest`` replays every call of the
retention (a week).  Neither is right: a live call started at most ``streams_max_call_age_s`` ago, so
that is where a fresh group begins.

:func:`seed_group_offsets` runs before the Faust worker joins: for each partition of the topic with
no committed offset in the group, it looks up the first offset at or after ``now - max_age_s``
(``offsets_for_times``, ListOffsets by timestamp; the end offset when nothing is that recent) and
commits it for the group, as a group-less ("simple") consumer may while the group is empty.  A group
that already has offsets is left alone, and so is one that is active (the commit is refused then,
and the other member's assignment already started somewhere) — the worker then starts as Faust
would.  Replaying up to ``max_age_s`` of ended calls is cheap: their speech work is skipped
(``streams.skip``).
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from sentiric.eventlog.follower import topic_partitions

log = structlog.get_logger(__name__)  # runs before Faust sets up logging: structlog prints anyway


async def seed_group_offsets(
    group: str, topic: str, max_age_s: float, *, now: float | None = None, **client: Any
) -> dict[int, int]:
    """Commit ``now - max_age_s`` offsets for the partitions the group has none for; returns them."""
    count = await topic_partitions(topic, client)
    tps = [TopicPartition(topic, p) for p in range(count)]
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **client)
    await consumer.start()
    try:
        fresh = [tp for tp in tps if await consumer.committed(tp) is None]
        if not fresh:
            return {}
        since_ms = int(((time.time() if now is None else now) - max_age_s) * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(fresh, since_ms))
        ends = await consumer.end_offsets(fresh)
        offsets = {tp: (found[tp].offset if found.get(tp) is not None else ends[tp]) for tp in fresh}
        consumer.assign(fresh)
        try:
            await consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
        except Exception as exc:  # an active group refuses a simple consumer's commit: it has begun
            log.info("consumer group active; its offsets are left as they are", group=group, error=str(exc))
            return {}
        log.info(
            "fresh consumer group starts back in time",
            group=group,
            topic=topic,
            seconds=max_age_s,
            offsets={tp.partition: o for tp, o in offsets.items()},
        )
        return {tp.partition: o for tp, o in offsets.items()}
    finally:
        await consumer.stop()
