"""Rebuild the projections from offset 0 and print their checksum.

Drops the read-model tables (`migrate.PROJECTION_TABLES`, their stored offsets with them), re-creates
them through the same migrations, and re-projects the whole log with the same `Projector` the live
process runs, up to the log's end as of the start. The checksum (`store.checksum`) of two rebuilds,
or of a rebuild and a caught-up live projection, is equal when the tables are.

A live projector (in `sentiric api`) writing to the same database during a rebuild loses its
compare-and-set on the offsets (`FencedError`, its batch rolled back) or finds the tables gone, and
resumes from the stored offsets once the rebuild has re-created them: no restart needed.
Corrupt messages are not dead-lettered a second time (the live run did that).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections import store
from projections.logtopics import LogTopics
from projections.migrate import drop_projections, migrate
from projections.projector import Projector


@dataclass(frozen=True, slots=True)
class RebuildResult:
    checksum: str
    events: int
    seconds: float
    counts: dict[str, int]

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def rebuild_pool(
    pool: asyncpg.Pool, *, topics: LogTopics, client: dict[str, Any], batch_max: int = 5000
) -> RebuildResult:
    started = time.perf_counter()
    async with pool.acquire() as conn:
        await drop_projections(conn)
        await migrate(conn)
    projector = Projector(pool, topics=topics.projected, client=client, batch_max=batch_max, name="rebuild")
    events = await projector.run(stop_at_end=True)
    seconds = time.perf_counter() - started
    async with pool.acquire() as conn:
        digest = await store.checksum(conn)
        counts = await store.table_counts(conn)
    return RebuildResult(digest, events, seconds, counts)


async def projection_checksum(pool: asyncpg.Pool) -> str:
    async with pool.acquire() as conn:
        return await store.checksum(conn)


async def rebuild(settings: Any, topics: LogTopics | None = None) -> str:
    """`sentiric projections rebuild` (and `sentiric replay rebuild`): returns the checksum."""
    from projections.pool import open_pool
    from sentiric.database import database_url
    from sentiric.eventlog.connection import client_options

    pool = await open_pool(database_url(settings))
    try:
        result = await rebuild_pool(pool, topics=topics or LogTopics(), client=client_options(settings))
    finally:
        await pool.close()
    counts = " ".join(f"{t}={n}" for t, n in result.counts.items())
    print(
        f"rebuilt {result.events} events in {result.seconds:.1f} s "
        f"({result.events_per_second:.0f} events/s): {counts}"
    )
    print(f"checksum {result.checksum}")
    return result.checksum
