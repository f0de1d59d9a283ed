"""Facts written before tenants (issue 15): the stored bytes of every earlier schema version without a
`tenant` field (the golden fixtures), produced onto the real broker next to today's facts of a tenant,
project into PostgreSQL with the tenant 'default' while today's facts keep theirs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from projections.projector import Projector
from projections.synthetic import day_of_calls
from sentiric.eventlog.producer import EventProducer

from .conftest import Env

GOLDEN = Path(__file__).resolve().parents[3] / "schemas" / "golden"


def old_fixtures(family: str, first: str = "") -> list[bytes]:
    """The fixtures of schema versions without a tenant, those of type ``first`` first: every fixture
    has the same event id, so only the first of them is applied (the others are duplicates)."""
    paths = [p for p in sorted((GOLDEN / family).glob("*.json")) if "tenant" not in json.loads(p.read_text())]
    paths.sort(key=lambda p: not p.name.startswith(first))
    return [p.with_suffix(".bin").read_bytes() for p in paths]


async def test_old_facts_project_into_the_default_tenant(env: Env) -> None:
    # (the old KPI windows share that event id too: tests/unit/projections/test_cdr_tenant.py folds them)
    old_events = old_fixtures("events", first="AgentReplied.")
    assert old_events
    call = day_of_calls(1, seed=9)[0]
    await env.produce([replace(f, tenant="acme") for f in call.facts])
    async with EventProducer(**env.client) as producer:
        for value in old_events:
            producer.publish_raw(env.topics.calls, b"5e171c00-0000-4000-8000-000000000001", value)
        await producer.flush(30)
    pool = await env.pool()
    try:
        projector = Projector(pool, topics=env.topics.projected, client=env.client)
        await projector.run(stop_at_end=True)
        assert projector.set_aside == 0
        tenants = {
            table: {
                r["tenant"]: r["n"]
                for r in await pool.fetch(f"SELECT tenant, count(*) AS n FROM {table} GROUP BY 1")
            }
            for table in ("calls", "transcript_turns", "playbacks", "dtmf")
        }
    finally:
        await pool.close()
    assert tenants["calls"] == {"acme": 1, "default": 1}, tenants
    assert tenants["transcript_turns"]["default"] == 1 and tenants["transcript_turns"]["acme"] > 0, tenants
    assert set(tenants["playbacks"]) == set(tenants["dtmf"]) == {"acme"}, tenants
