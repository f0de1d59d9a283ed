"""The edge's view of the dialog workers: heartbeats in, "is this call id served?" out."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka.partitioner import DefaultPartitioner

from edge.workers import REDRAWS, Placement, WorkerLimits, WorkerTable, partition_of
from streams.heartbeat import heartbeat

PARTITIONS = 3


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def placement(clock: Clock, limits: WorkerLimits | None = None) -> tuple[WorkerTable, Placement]:
    table = WorkerTable(clock)
    return table, Placement(table, lambda: PARTITIONS, limits or WorkerLimits(), clock)


def beat(worker: str, partitions: list[int], lag: int = 0, behind_s: float = 0.0, **kw: object) -> object:
    return heartbeat(worker, "sentiric.calls", partitions, lag, behind_s, 0, **kw)  # type: ignore[arg-type]


def call_on(partition: int) -> str:
    return next(
        c for c in (str(uuid.uuid4()) for _ in range(1000)) if partition_of(c, PARTITIONS) == partition
    )


def test_partition_of_is_the_producers_default_partitioner() -> None:
    for _ in range(200):
        call_id = str(uuid.uuid4())
        expected = DefaultPartitioner()(call_id.encode(), list(range(PARTITIONS)), [])
        assert partition_of(call_id, PARTITIONS) == expected


def test_no_worker_refuses_every_call() -> None:
    _, place = placement(Clock())
    assert place.refusal(str(uuid.uuid4())) == "no_worker"


def test_a_live_worker_serves_only_its_partitions() -> None:
    clock = Clock()
    table, place = placement(clock)
    table.apply("w1", beat("w1", [0, 2]))
    assert place.refusal(call_on(0)) is None
    assert place.refusal(call_on(2)) is None
    assert place.refusal(call_on(1)) == "no_worker"


def test_a_silent_worker_is_dead_after_the_timeout() -> None:
    clock = Clock()
    table, place = placement(clock, WorkerLimits(timeout_s=5.0))
    table.apply("w1", beat("w1", [0, 1, 2]))
    clock.now += 4.9
    assert place.refusal(call_on(1)) is None
    clock.now += 0.2
    assert place.refusal(call_on(1)) == "no_worker"
    table.apply("w1", beat("w1", [0, 1, 2]))  # it comes back
    assert place.refusal(call_on(1)) is None


def test_a_worker_behind_is_refused_with_its_own_reason() -> None:
    table, place = placement(Clock(), WorkerLimits(max_lag=100, max_behind_s=3.0))
    table.apply("w1", beat("w1", [0, 1, 2], lag=101))
    assert place.refusal(call_on(0)) == "worker_behind"
    table.apply("w1", beat("w1", [0, 1, 2], lag=5, behind_s=3.5))
    assert place.refusal(call_on(0)) == "worker_behind"
    table.apply("w1", beat("w1", [0, 1, 2], lag=5, behind_s=0.4))
    assert place.refusal(call_on(0)) is None


def test_a_stopping_worker_or_a_tombstone_serves_nothing() -> None:
    table, place = placement(Clock())
    table.apply("w1", beat("w1", [0, 1, 2], stopping=True))
    assert place.refusal(call_on(0)) == "no_worker"
    table.apply("w1", beat("w1", [0, 1, 2]))
    table.apply("w1", None)
    assert place.refusal(call_on(0)) == "no_worker"


def test_heartbeats_read_at_start_are_aged_by_their_own_time() -> None:
    table, place = placement(Clock(), WorkerLimits(timeout_s=5.0))
    old = beat("w1", [0, 1, 2], now=(datetime.now(UTC) - timedelta(hours=1)).timestamp())
    table.apply("w1", old, backlog=True)  # written an hour ago, by a worker long gone
    assert place.refusal(call_on(0)) == "no_worker"
    table.apply("w2", beat("w2", [0, 1, 2]), backlog=True)  # written just now
    assert place.refusal(call_on(0)) is None


def test_draw_redraws_until_a_served_partition() -> None:
    table, place = placement(Clock())
    table.apply("w1", beat("w1", [1]))
    ids = [call_on(0), call_on(2), call_on(0), call_on(1), call_on(2)]
    assert place.draw(iter(ids).__next__) == ids[3]


def test_draw_gives_up_after_the_redraw_limit() -> None:
    _, place = placement(Clock())  # nobody serves anything
    counter = itertools.count()
    drawn: list[str] = []

    def new_id() -> str:
        drawn.append(f"call-{next(counter)}")
        return drawn[-1]

    assert place.draw(new_id) == drawn[-1]
    assert len(drawn) == REDRAWS
