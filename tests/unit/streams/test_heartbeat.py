"""The worker's lag as its heartbeat reports it: slowest agent, records and age."""

from __future__ import annotations

from schemas.codec import decode, encode
from streams.heartbeat import Progress, heartbeat, worker_id


def test_caught_up_is_zero() -> None:
    p = Progress(agents=("dialog", "tts"))
    p.done("dialog", 0, 9, 100.0)
    p.done("tts", 0, 9, 100.0)
    assert p.lag(0, highwater=10, start=0, now=200.0) == (0, 0.0)


def test_the_slowest_agent_sets_the_lag() -> None:
    p = Progress(agents=("dialog", "tts"))
    p.done("dialog", 0, 99, 150.0)
    p.done("tts", 0, 49, 140.0)
    records, seconds = p.lag(0, highwater=100, start=0, now=150.0)
    assert records == 50
    assert seconds == 0.0  # first seen behind just now
    records, seconds = p.lag(0, highwater=120, start=0, now=153.0)
    assert (records, seconds) == (70, 3.0)  # behind for 3 s, its next fact is at least 13 s old


def test_a_fresh_fact_after_an_idle_hour_is_not_an_hour_old() -> None:
    p = Progress(agents=("dialog",))
    p.done("dialog", 0, 9, 0.0 + 1)  # the last fact an hour ago
    assert p.lag(0, highwater=11, start=0, now=3600.0) == (1, 0.0)
    assert p.lag(0, highwater=11, start=0, now=3601.0) == (1, 1.0)


def test_agents_that_handled_nothing_count_from_the_group_start() -> None:
    p = Progress(agents=("dialog", "tts"))
    p.done("dialog", 1, 499, 10.0)
    assert p.lag(1, highwater=500, start=200, now=20.0)[0] == 300
    assert p.lag(2, highwater=None, start=None, now=20.0) == (0, 0.0)  # nothing fetched yet


def test_revoked_partitions_are_forgotten() -> None:
    p = Progress(agents=("dialog",))
    p.done("dialog", 0, 9, 1.0)
    p.forget({0})
    assert p.lag(0, highwater=10, start=5, now=2.0)[0] == 5


def test_heartbeat_round_trips_through_the_codec() -> None:
    wid = worker_id()
    beat = heartbeat(wid, "sentiric.calls", [2, 0], 7, 1.23456, 3, now=1_800_000_000.0)
    back = decode(encode(beat))
    assert (back.worker_id, back.partitions, back.lag, back.behind_s, back.skipped) == (
        wid,
        (0, 2),
        7,
        1.235,
        3,
    )
    assert not back.stopping
