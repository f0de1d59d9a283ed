"""Cursor encoding, migration files, and the config view (no database)."""

from datetime import UTC, datetime

import pytest

from projections.migrate import PROJECTION_TABLES, load_migrations
from projections.queries import CursorError, decode_cursor, encode_cursor
from projections.store import TABLES, _upsert_sql


def test_cursor_round_trip():
    at = datetime(2026, 3, 2, 10, 11, 12, 131415, tzinfo=UTC)
    assert decode_cursor(encode_cursor(at, "abc")) == (at, "abc")


@pytest.mark.parametrize(
    "bad", ["", "garbage", "e30", encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), "x")[:-3]]
)
def test_foreign_cursors_are_refused(bad):
    with pytest.raises(CursorError):
        decode_cursor(bad)


def test_migrations_are_ordered_and_create_every_table_the_fold_writes():
    migrations = load_migrations()
    assert [mg.version for mg in migrations] == sorted(mg.version for mg in migrations)
    projection_sql = "\n".join(mg.sql for mg in migrations if mg.projection)
    for table, row_type, _ in TABLES:
        assert f"CREATE TABLE {table} (" in projection_sql
        assert table in PROJECTION_TABLES
        section = projection_sql.split(f"CREATE TABLE {table} (")[1].split(");")[0]
        added = projection_sql.split(f"CREATE TABLE {table} (")[1].split(");", 1)[1]  # later migrations
        for column in row_type.__dataclass_fields__:
            assert f"\n    {column} " in section or f"ALTER TABLE {table} ADD COLUMN {column} " in added, (
                table,
                column,
            )
    assert "ON CONFLICT (call_id) DO UPDATE" in _upsert_sql("calls", TABLES[0][1], ("call_id",))
