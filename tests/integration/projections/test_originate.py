"""`POST /api/calls` against a real broker and database: the OriginateCall on the edge's command topic,
the trunk's number routing, validation, scopes and the per-trunk rate limit."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer

from schemas import models as m
from schemas.codec import decode
from tests.integration.projections.test_api import AUTH, anonymous, api


async def read_commands(kafka: str, topic: str, count: int) -> list[m.OriginateCall]:
    """The first ``count`` OriginateCall records on ``topic`` (read from its start)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[m.OriginateCall] = []
    try:
        async with asyncio.timeout(30):
            while len(out) < count:
                for msgs in (await consumer.getmany(timeout_ms=500)).values():
                    out += [r for r in (decode(msg.value) for msg in msgs) if isinstance(r, m.OriginateCall)]
        return out
    finally:
        await consumer.stop()


async def test_post_calls_publishes_originate_for_a_uri_and_a_trunk_number(env):
    async with api(env, originate_edge="edge-7") as client, anonymous(client) as anon:
        body = {
            "to": "sip:1000@127.0.0.1:5080",
            "dialplan": "sales",
            "language": "tr-TR",
            "ring_timeout_s": 12,
        }
        assert (await anon.post("/api/calls", json=body)).status_code == 401
        r = await client.post("/api/calls", json=body, headers=AUTH)
        assert r.status_code == 202, r.text
        direct = r.json()
        assert direct["to_uri"] == "sip:1000@127.0.0.1:5080" and direct["edge"] == "edge-7"
        trunk = {
            "name": "carrier", "sources": ["192.0.2.0/24"], "outbound_address": "192.0.2.5:5060",
            "outbound_username": "acct", "outbound_password": "pw", "outbound_calls_per_second": 1,
        }  # fmt: skip
        t = await client.put("/api/admin/trunks/carrier", json=trunk, headers=AUTH)
        assert t.status_code == 200 and t.json()["outbound_password"] is None  # write-only
        r = await client.post("/api/calls", json={"to": "+4930123", "trunk": "carrier"}, headers=AUTH)
        assert r.status_code == 202, r.text
        via_trunk = r.json()
        assert via_trunk["to_uri"] == "sip:+4930123@192.0.2.5:5060"
        limited = await client.post("/api/calls", json={"to": "+4930124", "trunk": "carrier"}, headers=AUTH)
        assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
        for bad in (
            {"to": "1000"},  # a number needs a trunk
            {"to": "sip:1000@pbx.example.com"},  # no DNS in the edge's SIP core
            {"to": "hello"},
            {"to": "1000", "trunk": "nope"},
            {"to": "sip:1000@127.0.0.1", "ring_timeout_s": 0},
            {"to": "sip:1000@127.0.0.1", "unknown": 1},
        ):
            r = await client.post("/api/calls", json=bad, headers=AUTH)
            assert r.status_code == 422, (bad, r.text)
    commands = await read_commands(env.kafka, f"{env.topics.commands_prefix}edge-7", 2)
    by_id = {c.call_id: c for c in commands}
    assert set(by_id) == {direct["call_id"], via_trunk["call_id"]}
    first = by_id[direct["call_id"]]
    assert (first.to_uri, first.trunk_id, first.dialplan_id, first.language, first.ring_timeout_s) == (
        "sip:1000@127.0.0.1:5080", None, "sales", "tr-TR", 12,
    )  # fmt: skip
    assert by_id[via_trunk["call_id"]].trunk_id == "carrier"
