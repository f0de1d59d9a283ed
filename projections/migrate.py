"""Ordered SQL migrations for the projection database, applied at start.

`migrations/NNNN_name.sql` files run once each, in order, each in its own transaction together with
its row in `schema_migrations(version, name)`. Concurrent starters serialize on an advisory lock, so
two processes starting at once do not both apply a migration.

A migration whose first line is `-- projection` only creates tables that are a pure function of the
log (the read models). `rebuild` drops exactly those tables and re-applies exactly those migrations;
the others (webhook progress) survive a rebuild.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from projections.connection import Connection

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5E171C_0001
PROJECTION_MARKER = "-- projection"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

# The read-model tables, dropped and re-created by `rebuild`, in checksum order.
PROJECTION_TABLES: tuple[str, ...] = (
    "calls",
    "transcript_turns",
    "playbacks",
    "dtmf",
    "kpi_windows",
    "processed_events",
    "consumer_offsets",
)


class MigrationError(RuntimeError):
    """A migration file is misnamed or failed to apply."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def projection(self) -> bool:
        return self.sql.startswith(PROJECTION_MARKER)


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    out = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        out.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in out]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return out


async def _lock_and_prepare(conn: Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )


async def migrate(conn: Connection, migrations: list[Migration] | None = None) -> list[int]:
    """Apply every migration not applied yet; returns the versions applied now."""
    migrations = load_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    async with conn.transaction():
        await _lock_and_prepare(conn)
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in migrations:
            if migration.version in done:
                continue
            try:
                await conn.execute(migration.sql)
            except asyncpg.PostgresError as exc:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} failed: {exc}"
                ) from exc
            await conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                migration.version,
                migration.name,
            )
            applied_now.append(migration.version)
    return applied_now


async def drop_projections(conn: Connection, migrations: list[Migration] | None = None) -> None:
    """Drop the read-model tables and forget their migrations (so `migrate` re-creates them)."""
    migrations = load_migrations() if migrations is None else migrations
    async with conn.transaction():
        await _lock_and_prepare(conn)
        for table in PROJECTION_TABLES:
            await conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        await conn.execute(
            "DELETE FROM schema_migrations WHERE version = ANY($1::int[])",
            [m.version for m in migrations if m.projection],
        )
