"""The embedded PostgreSQL: a real server on 127.0.0.1 that keeps its rows across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest

from sentiric.database import EmbeddedPostgres, database_url
from sentiric.settings import Settings


async def test_session_database_answers_queries(postgres_dsn: str) -> None:
    connection = await asyncpg.connect(postgres_dsn)
    try:
        assert await connection.fetchval("SELECT current_database()") == "sentiric"
        assert await connection.fetchval("SELECT inet_server_addr()::text") == "127.0.0.1/32"
    finally:
        await connection.close()


async def test_rows_survive_a_stop_and_a_start(make_settings: Callable[[str], Settings]) -> None:
    server = EmbeddedPostgres(make_settings("pg-restart-home"))
    assert not server.status().running
    dsn = await asyncio.to_thread(server.start)
    try:
        assert dsn == database_url(server.settings)
        status = server.status()
        assert status.running and status.port == server.settings.postgres_port
        assert await asyncio.to_thread(server.start) == dsn  # running already: a no-op

        connection = await asyncpg.connect(dsn)
        try:
            await connection.execute("CREATE TABLE calls (call_id text PRIMARY KEY, seconds int NOT NULL)")
            await connection.executemany("INSERT INTO calls VALUES ($1, $2)", [("a", 12), ("b", 40)])
        finally:
            await connection.close()

        stopped = await asyncio.to_thread(server.stop)
        assert stopped.changed and not server.status().running
        with pytest.raises(OSError):
            await asyncpg.connect(dsn, timeout=5)

        assert await asyncio.to_thread(server.start) == dsn
        connection = await asyncpg.connect(dsn)
        try:
            rows = await connection.fetch("SELECT call_id, seconds FROM calls ORDER BY call_id")
        finally:
            await connection.close()
        assert [tuple(r) for r in rows] == [("a", 12), ("b", 40)]
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_wrong_password_is_refused(postgres_dsn: str) -> None:
    wrong = postgres_dsn.replace("sentiric:", "sentiric:x", 1)
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(wrong)
