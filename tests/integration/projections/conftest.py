"""Per-test isolation on the session's real broker and PostgreSQL: a fresh database and private topics."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from projections.logtopics import LogTopics
from projections.pool import open_pool
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.producer import EventProducer

PARTITIONS = 4


def with_database(dsn: str, name: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + name


async def create_database(admin_dsn: str) -> str:
    name = f"proj_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, dsn: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {dsn.rsplit('/', 1)[1]} WITH (FORCE)")
    finally:
        await conn.close()


@dataclass
class Env:
    kafka: str
    dsn: str
    admin_dsn: str
    topics: LogTopics

    @property
    def client(self) -> dict[str, Any]:
        return {"bootstrap_servers": self.kafka}

    async def new_database(self) -> str:
        return await create_database(self.admin_dsn)

    async def pool(self, dsn: str | None = None) -> asyncpg.Pool:
        return await open_pool(dsn or self.dsn, max_size=4)

    async def produce(self, records: list[Any], topic: str | None = None) -> None:
        async with EventProducer(bootstrap_servers=self.kafka, buffer_max=len(records) + 10) as producer:
            for r in records:
                producer.publish(r, topic=topic or self.topics.calls)


@pytest.fixture
async def env(kafka: str, postgres_dsn: str) -> AsyncIterator[Env]:
    topics = LogTopics.prefixed(f"t{uuid.uuid4().hex[:8]}")
    await ensure_topics(topics.specs(PARTITIONS, 24 * 3600 * 1000), bootstrap_servers=kafka)
    dsn = await create_database(postgres_dsn)
    try:
        yield Env(kafka, dsn, postgres_dsn, topics)
    finally:
        await drop_database(postgres_dsn, dsn)
