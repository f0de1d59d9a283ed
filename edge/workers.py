"""Which dialog workers are alive and keeping up, and whether a call id lands on one (never silent).

Workers publish a ``WorkerHeartbeat`` every ``worker_heartbeat_s`` on the compacted ``sentiric.workers``
topic (``streams.heartbeat``): their worker id, the partitions of ``sentiric.calls`` assigned to them,
how many records they are behind (``lag``) and the age of their oldest unprocessed fact
(``behind_s``).  The edge follows that topic into a :class:`WorkerTable` (plain dictionary reads, so
call setup never waits on the log).

Faust partitions dialog work by call id: a call's facts go to partition ``murmur2(call_id) % N`` of
the call topic (the Java client's default partitioner, which aiokafka and so Faust use too), and only
the worker holding that partition will ever greet it.  :class:`Placement` answers, for a call id,
whether that partition is held by a worker that is

* live: its newest heartbeat is younger than ``worker_timeout_s`` (judged by the edge's own clock at
  receipt, so clocks need not agree; heartbeats read at start, written before the edge ran, are aged
  by their ``at`` instead, so a worker that died yesterday is not live for the first seconds), and
  not stopping;
* keeping up: ``lag <= worker_max_lag`` and ``behind_s <= worker_max_behind_s``.

The edge draws a call's internal id itself, so when the first id lands on a partition nobody serves
(one worker of two is gone, its partitions not yet reassigned), :meth:`Placement.draw` draws again, up
to ``REDRAWS`` times, before the call is refused: one dead or slow worker does not cost a caller while
others serve.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog
from aiokafka.partitioner import murmur2

from schemas import models as m
from schemas.codec import default_codec
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import DeadLetters, RawPublisher, decode_message
from sentiric.eventlog.follower import TopicFollower

log = structlog.get_logger(__name__)

REDRAWS: Final = 8
"""Call ids drawn at most before the call is refused (each lands on a uniformly random partition)."""


def partition_of(call_id: str, partitions: int) -> int:
    """The call topic partition a call's facts land on (Kafka's default partitioner, murmur2)."""
    hashed: int = murmur2(call_id.encode())  # aiokafka is untyped
    return (hashed & 0x7FFFFFFF) % partitions


@dataclass(frozen=True, slots=True)
class WorkerView:
    """One worker's newest heartbeat, with the edge-clock time it was received."""

    worker_id: str
    partitions: frozenset[int]
    lag: int
    behind_s: float
    stopping: bool
    seen_at: float


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    timeout_s: float = 5.0
    max_lag: int = 2000
    max_behind_s: float = 1.0


class WorkerTable:
    """Workers by id, from their heartbeats (newest wins; a tombstone removes one)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._workers: dict[str, WorkerView] = {}
        self._clock = clock

    def apply(self, worker_id: str, beat: Any | None, *, backlog: bool = False) -> None:
        """Apply a heartbeat (None: tombstone); ``backlog`` for ones read at start, aged by ``at``."""
        if beat is None:
            self._workers.pop(worker_id, None)
            return
        self._workers[worker_id] = WorkerView(
            worker_id=beat.worker_id,
            partitions=frozenset(beat.partitions),
            lag=beat.lag,
            behind_s=beat.behind_s,
            stopping=beat.stopping,
            seen_at=self._clock() - (max(0.0, time.time() - beat.at.timestamp()) if backlog else 0.0),
        )

    def workers(self) -> list[WorkerView]:
        return list(self._workers.values())

    def __len__(self) -> int:
        return len(self._workers)


class Placement:
    """Admission's view of the workers: is the partition of this call id served right now?"""

    def __init__(
        self,
        table: WorkerTable,
        partitions: Callable[[], int],
        limits: WorkerLimits,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.table = table
        self.partitions = partitions
        self.limits = limits
        self._clock = clock

    def refusal(self, call_id: str) -> str | None:
        """None when a live worker that keeps up holds the call's partition, else why not:
        ``no_worker`` (nobody live holds it) or ``worker_behind`` (its holder is too far behind)."""
        count = self.partitions()
        if count <= 0:
            return "no_worker"
        partition = partition_of(call_id, count)
        now, lim = self._clock(), self.limits
        reason = "no_worker"
        for w in self.table.workers():
            if w.stopping or now - w.seen_at > lim.timeout_s or partition not in w.partitions:
                continue
            if w.lag <= lim.max_lag and w.behind_s <= lim.max_behind_s:
                return None
            reason = "worker_behind"
        return reason

    def draw(self, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> str:
        """A call id whose partition is served, drawing up to ``REDRAWS`` times; else the last one
        drawn (admission then refuses it)."""
        call_id = new_id()
        for _ in range(REDRAWS - 1):
            if self.refusal(call_id) is None:
                break
            call_id = new_id()
        return call_id


class WorkerFollower:
    """Loads ``sentiric.workers`` into a :class:`WorkerTable`, then follows it."""

    def __init__(
        self, table: WorkerTable, *, dead_letters: RawPublisher | None = None, **client: Any
    ) -> None:
        self.table = table
        self._codec = default_codec()
        self.dead_letters = DeadLetters(dead_letters, "edge-worker-follower")
        self._loading = True
        self._follower = TopicFollower(
            topics.WORKERS,
            self._apply,
            name="edge-worker-follower",
            from_beginning=True,
            dead_letters=self.dead_letters,
            **client,
        )

    def _apply(self, msg: Any) -> None:
        if msg.key is None:
            return
        key = msg.key.decode("utf-8", "replace")
        if msg.value is None:
            self.table.apply(key, None)
            return
        decoded = decode_message(msg, self._codec, self.dead_letters)
        if decoded is not None and isinstance(decoded.record, m.WorkerHeartbeat):
            self.table.apply(key, decoded.record, backlog=self._loading)

    async def start(self) -> None:
        await self._follower.start()
        self._loading = False
        log.info("workers loaded", workers=len(self.table))

    async def stop(self) -> None:
        await self._follower.stop()
