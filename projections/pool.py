"""The asyncpg pool of the read side: UTC sessions, migrations applied before first use."""

from __future__ import annotations

import asyncpg

from projections.migrate import migrate


async def open_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, apply_migrations: bool = True
) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        server_settings={"timezone": "UTC", "application_name": "sentiric-projections"},
    )
    if apply_migrations:
        async with pool.acquire() as conn:
            await migrate(conn)
    return pool
