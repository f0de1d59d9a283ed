"""Worker liveness and lag on the log, for the edges' admission (never silent; ``edge.workers``).

Every ``worker_heartbeat_s`` a worker publishes a ``WorkerHeartbeat`` on the compacted
``sentiric.workers`` topic, keyed by its worker id: the partitions of ``sentiric.calls`` assigned to
it, ``lag`` — records of those partitions its slowest call agent has not processed — and
``behind_s``, how old the oldest unprocessed fact is.

Faust's own consumer position runs ahead of the agents (it reads into their buffers), so progress is
what the agents report themselves (:meth:`Progress.done`: offset and record timestamp of each event
handled).  Per partition, the slowest agent's next offset against the partition's high watermark is
the lag.  The age of the oldest unprocessed fact is not read back from the broker; it is bounded by
two things the worker knows: the record time of the last fact the slowest agent handled (the next one
is no older) and how long the partition has been continuously behind (``lag > 0`` at every heartbeat
since) — the smaller of the two, so a single fresh fact after an idle hour does not look an hour old.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas import models as m


def worker_id() -> str:
    """Stable for the process, unique across hosts and restarts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class Progress:
    """What the call agents have handled, per agent and partition: (next offset, record time in s)."""

    agents: tuple[str, ...]
    handled: dict[str, dict[int, tuple[int, float]]] = field(default_factory=dict)
    behind_since: dict[int, float] = field(default_factory=dict)

    def done(self, agent: str, partition: int, offset: int, timestamp_s: float) -> None:
        self.handled.setdefault(agent, {})[partition] = (offset + 1, timestamp_s)

    def forget(self, partitions: set[int]) -> None:
        """Partitions revoked: another worker's progress from now on."""
        for per_agent in self.handled.values():
            for p in partitions:
                per_agent.pop(p, None)
        for p in partitions:
            self.behind_since.pop(p, None)

    def lag(self, partition: int, highwater: int | None, start: int | None, now: float) -> tuple[int, float]:
        """(records behind, seconds behind) of one partition; ``start`` is where the group's
        consumption of it began (its committed offset), used for agents that handled nothing yet."""
        if highwater is None:
            return 0, 0.0
        slowest: tuple[int, float] | None = None
        for agent in self.agents:
            got = self.handled.get(agent, {}).get(partition)
            if got is None:
                got = (start if start is not None else highwater, 0.0)
            if slowest is None or got[0] < slowest[0]:
                slowest = got
        assert slowest is not None
        records = max(0, highwater - slowest[0])
        if records == 0:
            self.behind_since.pop(partition, None)
            return 0, 0.0
        since = self.behind_since.setdefault(partition, now)
        age = now - slowest[1] if slowest[1] else now - since
        return records, max(0.0, min(age, now - since))


def heartbeat(
    wid: str,
    topic: str,
    partitions: list[int],
    lag: int,
    behind_s: float,
    skipped: int,
    *,
    stopping: bool = False,
    now: float | None = None,
) -> m.WorkerHeartbeat:
    at = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return m.WorkerHeartbeat(
        event_id=uuid.uuid4(),
        worker_id=wid,
        at=at,
        topic=topic,
        partitions=tuple(sorted(partitions)),
        lag=lag,
        behind_s=round(behind_s, 3),
        skipped=skipped,
        stopping=stopping,
    )


async def workers_serve_all(partitions: int, *, max_age_s: float = 5.0, **client: object) -> bool:
    """True when `sentiric.workers` holds a heartbeat younger than ``max_age_s`` for every call
    partition: the edges admit agent calls from then on (for `sentiric up`'s readiness)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from schemas.codec import CodecError, decode
    from sentiric.eventlog.topics import WORKERS

    consumer = AIOKafkaConsumer(group_id=None, **client)
    await consumer.start()
    try:
        tp = TopicPartition(WORKERS, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        held: set[int] = set()
        now = time.time()
        while await consumer.position(tp) < end:
            for records in (await consumer.getmany(tp, timeout_ms=1000)).values():
                for r in records:
                    try:
                        beat = decode(r.value) if r.value else None
                    except CodecError:
                        continue
                    if isinstance(beat, m.WorkerHeartbeat) and not beat.stopping:
                        if now - beat.at.timestamp() < max_age_s:
                            held.update(beat.partitions)
        return held >= set(range(partitions))
    finally:
        await consumer.stop()
