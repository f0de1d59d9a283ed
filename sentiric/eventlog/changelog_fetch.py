"""Stop the Kafka client fetching table changelogs once Faust has recovered the tables from them.

Faust "pauses" a changelog partition after recovery only in its own bookkeeping (it leaves the
partition out of the set it drains); the aiokafka consumer underneath keeps fetching it. The first
record our own table writes there is then fetched and never drained, and aiokafka holds back every
further fetch to the broker for ``prefetch_backoff`` (100 ms) while an undrained record is young, so
the first change to each changelog partition after every rebalance stalls all of this worker's
partitions for 100 ms. Measured with the voice bench: a reply's dialog-machine or TTS hop took
100-110 ms instead of 10 ms on every call whose turn landed on a changelog partition not yet written.

Pausing those partitions in the client stops the fetching (aiokafka starts each new assignment
unpaused, so the next rebalance's recovery still reads them). With ``table_standby_replicas=0`` no
standby table needs them either. aiokafka is not thread-safe and Faust runs it in its own thread, so
the pause runs there, through the consumer thread's call queue.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka import TopicPartition

log = structlog.get_logger("sentiric.eventlog")


async def stop_fetching_changelogs(app: Any, **_: Any) -> None:
    """An ``app.on_rebalance_complete`` receiver: pause this worker's changelog partitions in aiokafka."""
    changelogs = app.tables.changelog_topics
    tps = [TopicPartition(t.topic, t.partition) for t in app.consumer.assignment() if t.topic in changelogs]
    thread = getattr(app.consumer, "_thread", None)  # the aiokafka driver's consumer thread
    if not tps or thread is None:
        return

    def pause() -> None:
        thread._ensure_consumer().pause(*tps)

    await thread.call_thread(pause)
    log.info("changelog fetching paused after recovery", partitions=len(tps))
