"""The projector's isolation of poison records, over a fake connection: a failing batch is bisected
under savepoints down to the records that fail alone; everything else is written, in log order."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from projections.projector import FoldError, Projector


class FakeConnection:
    """Savepoints that roll back: what a failed `_write` wrote is dropped."""

    def __init__(self) -> None:
        self.rows: list[int] = []

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        mark = len(self.rows)
        try:
            yield
        except BaseException:
            del self.rows[mark:]
            raise


class Isolating(Projector):
    def __init__(self, poison: set[int]) -> None:
        super().__init__(None, topics=(), client={})  # type: ignore[arg-type]
        self.poison = poison
        self.writes = 0

    async def _write(self, conn: Any, items: list[Any]) -> Any:
        self.writes += 1
        conn.rows.extend(n for n, _, _ in items)  # written first, then the poison raises: rolled back
        bad = [n for n, _, _ in items if n in self.poison]
        if bad:
            raise FoldError(f"record {bad[0]}")
        return items


async def test_bisection_sets_aside_exactly_the_poison_records_and_writes_the_rest_in_order() -> None:
    items = [(n, None, None) for n in range(100)]
    projector, conn = Isolating({3, 58, 59}), FakeConnection()
    written, poison = await projector._bisect(conn, items)
    assert conn.rows == [n for n in range(100) if n not in {3, 58, 59}]
    assert [n for part in written for n, _, _ in part] == conn.rows  # what each write returned
    assert [item[0] for item, _ in poison] == [3, 58, 59]
    assert all(isinstance(exc, FoldError) for _, exc in poison)
    assert projector.writes < 40  # ~2·k·log2(n), not one write per record


async def test_a_clean_batch_is_one_write() -> None:
    projector, conn = Isolating(set()), FakeConnection()
    _, poison = await projector._bisect(conn, [(n, None, None) for n in range(50)])
    assert poison == [] and projector.writes == 1 and conn.rows == list(range(50))


async def test_a_batch_of_poison_only_sets_every_record_aside() -> None:
    projector, conn = Isolating({0, 1, 2}), FakeConnection()
    _, poison = await projector._bisect(conn, [(n, None, None) for n in range(3)])
    assert [item[0] for item, _ in poison] == [0, 1, 2] and conn.rows == []
