"""The REST API in-process (ASGI) over the real broker and PostgreSQL, with its projector running.

`api()` yields a client that sends the bootstrap admin token on every request (every route but
/healthz needs one; `test_auth.py` attacks the routes without); `anonymous()` one that sends nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from projections.api.app import create_app
from projections.api.services import ApiConfig
from projections.logtopics import LogTopics
from projections.synthetic import day_of_calls, interleaved
from schemas import models as m
from schemas.codec import decode
from schemas.envelope import envelope
from sentiric.eventlog import topics as log_topics
from sentiric.eventlog.admin import ensure_topics

TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY = day_of_calls(60, seed=21)


@contextlib.asynccontextmanager
async def api(env, *, topics: LogTopics | None = None, **options) -> AsyncIterator[httpx.AsyncClient]:
    config = ApiConfig(
        dsn=env.dsn, client=env.client, admin_token=TOKEN, topics=topics or env.topics, **options
    )
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of the same app that sends no credential."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=client.app), base_url="http://api")  # type: ignore[attr-defined]


async def wait_for(predicate, within_s: float = 60.0, interval: float = 0.1):
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


async def projected(client: httpx.AsyncClient, count: int) -> None:
    async def enough():
        r = await client.get("/api/calls", params={"limit": 500})
        return len(r.json()["items"]) >= count

    await wait_for(enough)


async def test_calls_list_filters_paging_and_detail(env):
    await env.produce(interleaved(DAY))
    async with api(env) as client:
        await projected(client, len(DAY))
        # Paging: every call exactly once, newest INVITE first.
        seen, cursor = [], None
        while True:
            params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/api/calls", params=params)).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(c["call_id"] for c in seen) == sorted(c.call_id for c in DAY)
        assert [c["invite_at"] for c in seen] == sorted((c["invite_at"] for c in seen), reverse=True)
        # Filters.
        busy = (await client.get("/api/calls", params={"disposition": "busy"})).json()["items"]
        assert {c["call_id"] for c in busy} == {c.call_id for c in DAY if c.disposition == "busy"}
        one = DAY[0]
        by_caller = (await client.get("/api/calls", params={"caller": one.facts[0].caller})).json()["items"]
        assert one.call_id in {c["call_id"] for c in by_caller}
        t = one.facts[0].occurred_at
        window = {"from": t.isoformat(), "to": (t + timedelta(microseconds=1)).isoformat()}
        assert [c["call_id"] for c in (await client.get("/api/calls", params=window)).json()["items"]] == [
            one.call_id
        ]
        # Detail with transcript, DTMF and quality.
        talk = next(c for c in DAY if c.disposition == "answered" and c.digits)
        detail = (await client.get(f"/api/calls/{talk.call_id}")).json()
        assert detail["disposition"] == "answered"
        assert sum(1 for t in detail["transcript"] if t["speaker"] == "caller") == talk.turns
        assert "".join(d["digit"] for d in detail["dtmf"]) == talk.digits
        assert detail["mos"] is not None and detail["jitter_ms"] is not None
        # Errors are JSON.
        missing = await client.get(f"/api/calls/{uuid.uuid4()}")
        assert missing.status_code == 404 and missing.json()["error"] == "call not found"
        bad = await client.get("/api/calls", params={"disposition": "nope", "limit": 0})
        assert bad.status_code == 422 and bad.json()["error"] == "invalid request"
        assert (await client.get("/api/calls", params={"cursor": "garbage"})).status_code == 422


async def test_stats_match_the_calls(env):
    await env.produce(interleaved(DAY))
    async with api(env) as client:
        await projected(client, len(DAY))
        s = (
            await client.get(
                "/api/stats", params={"from": "2026-03-01T00:00:00Z", "to": "2026-03-04T00:00:00Z"}
            )
        ).json()
        early = await client.get("/api/stats", params={"to": "0001-01-01T01:00:00Z"})
        assert early.status_code == 422 and early.json()["error"] == "time range out of bounds"
        empty = await client.get(
            "/api/stats", params={"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}
        )
        assert empty.status_code == 422
    answered = [c for c in DAY if any(isinstance(f, m.CallAnswered) for f in c.facts)]
    assert s["calls_offered"] == len(DAY)
    assert s["calls_answered"] == len(answered)
    assert abs(s["asr"] - len(answered) / len(DAY)) < 1e-9
    assert s["active_calls"] == 0  # the synthetic day is in the past: in-progress calls are stale
    assert s["dispositions"] == {d: sum(1 for c in DAY if c.disposition == d) for d in s["dispositions"]}
    for key in ("pdd_ms", "stt_ms", "dialog_ms", "tts_ms", "voice_to_voice_ms"):
        assert s[key]["p50"] is not None and s[key]["p50"] <= s[key]["p99"], key
    assert s["voice_to_voice_ms"]["p50"] > s["stt_ms"]["p50"]
    assert sum(s["mos"]["bands"].values()) == sum(
        1 for c in DAY if c.disposition in ("answered", "transferred")
    )


async def test_recording_is_served_and_health_and_metrics(env, tmp_path):
    wav = tmp_path / "rec.wav"  # under the API's recordings root (below)
    wav.write_bytes(b"RIFF....WAVEfmt ")
    call = DAY[0]
    env_kw = envelope(call.call_id, seq=999, source="edge-1", occurred_at=call.facts[-1].occurred_at)
    rec = m.RecordingFinished(
        **env_kw, recording_id="r", uri=wav.as_uri(), format="wav", size_bytes=16, duration_ms=1
    )
    await env.produce([*call.facts, rec, *DAY[1].facts])
    s3rec = m.RecordingFinished(
        **envelope(DAY[1].call_id, seq=999, source="edge-1"),
        recording_id="r", uri="s3://bucket/a/b.wav", format="wav", size_bytes=1, duration_ms=1,
    )  # fmt: skip
    # A forged fact naming a file outside the recordings root: the API must not serve it.
    outside = m.RecordingFinished(
        **envelope(DAY[2].call_id, seq=999, source="edge-1"),
        recording_id="r", uri="file:///etc/passwd", format="wav", size_bytes=1, duration_ms=1,
    )  # fmt: skip
    await env.produce([*DAY[2].facts, s3rec, outside])
    async with api(env, recordings_root=tmp_path) as client:
        refusal = "recording is outside the recordings root"

        async def has_recordings():
            a = await client.get(f"/api/calls/{call.call_id}/recording")
            b = await client.get(f"/api/calls/{DAY[1].call_id}/recording")
            c = await client.get(f"/api/calls/{DAY[2].call_id}/recording")
            ready = (a.status_code, b.status_code, c.json().get("error")) == (200, 307, refusal)
            return (a, b) if ready else None

        served, redirected = await wait_for(has_recordings)
        assert served.content == wav.read_bytes()
        assert redirected.headers["location"] == "https://bucket.s3.amazonaws.com/a/b.wav"
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {
            "status": "ok",
            "database": True,
            "broker": True,
        }
        metrics = await client.get("/metrics")
        assert "sentiric_projection_events_total" in metrics.text


async def test_healthz_is_503_when_the_broker_is_unreachable(env):
    from tests.integration.conftest import free_port

    dead = replace(env, kafka=f"127.0.0.1:{free_port()}")
    config = ApiConfig(dsn=env.dsn, client=env.client, admin_token=TOKEN, topics=env.topics,
                       run_projector=False, run_webhooks=False)  # fmt: skip
    app = create_app(config)
    async with app.router.lifespan_context(app):
        svc = app.state.services
        svc.config = replace(svc.config, client=dead.client)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            r = await client.get("/healthz")  # open: no token
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable", "database": True, "broker": False}


async def read_config(env_kafka: str, topic: str) -> list[tuple[str, object]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=env_kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        out = []
        while await consumer.position(tp) < end:
            for msg in (await consumer.getmany(tp, timeout_ms=1000)).get(tp, []):
                out.append((msg.key.decode(), None if msg.value is None else decode(msg.value)))
        return out
    finally:
        await consumer.stop()


async def test_admin_writes_go_to_the_config_topic_and_deletes_tombstone(env):
    async with api(env) as client, anonymous(client) as anon:
        body = {"pattern": "^100$", "action": "agent", "language": "tr-TR"}
        assert (await anon.put("/api/admin/dialplans/main", json=body)).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert (await anon.put("/api/admin/dialplans/main", json=body, headers=wrong)).status_code == 401
        r = await client.put("/api/admin/dialplans/main", json=body, headers=AUTH)
        assert r.status_code == 200 and r.json()["language"] == "tr-TR"
        bad = await client.put(
            "/api/admin/dialplans/x", json={"pattern": "1", "action": "explode"}, headers=AUTH
        )
        assert bad.status_code == 422 and bad.json()["detail"]
        user = await client.put(
            "/api/admin/users/alice", json={"realm": "sentiric", "password": "s3cret"}, headers=AUTH
        )
        assert user.json() == {"id": "alice", "username": "alice", "realm": "sentiric", "enabled": True,
                                   "display_name": None}  # fmt: skip
        kb = {"title": "Hours", "phrasings": ["when are you open"], "answer": "Nine to five."}
        assert (await client.put("/api/admin/knowledge/hours", json=kb, headers=AUTH)).status_code == 200
        assert [d["id"] for d in (await client.get("/api/admin/dialplans", headers=AUTH)).json()] == ["main"]
        log_now = await read_config(env.kafka, env.topics.config)
        records = dict(log_now)
        assert records["dialplan:main"].pattern == "^100$"
        assert records["dialplan:main"].language == "tr-TR"
        import hashlib

        assert records["sipuser:alice"].ha1_md5 == hashlib.md5(b"alice:sentiric:s3cret").hexdigest()
        assert records["sipuser:alice"].ha1_sha256 == hashlib.sha256(b"alice:sentiric:s3cret").hexdigest()
        assert records["knowledgeentry:hours"].phrasings == ("when are you open",)
        assert (await client.delete("/api/admin/dialplans/main", headers=AUTH)).status_code == 204
        assert (await client.delete("/api/admin/dialplans/main", headers=AUTH)).status_code == 404
        assert (await client.get("/api/admin/dialplans/main", headers=AUTH)).status_code == 404
    after = await read_config(env.kafka, env.topics.config)
    assert after[-1] == ("dialplan:main", None)
    # A fresh reader materializing the compacted topic (as the edge's dialplan table does) sees
    # the user and the knowledge entry but no dialplan.
    async with api(env, run_projector=False, run_webhooks=False) as client:
        view = client.app.state.services.view  # type: ignore[attr-defined]
        await view.wait_ready()
        assert view.get(m.Dialplan, "main") is None
        assert view.get(m.SipUser, "alice").realm == "sentiric"
        assert [k.entity_id for k in view.all(m.KnowledgeEntry)] == ["hours"]


async def test_admin_trunks_crud_validates_cidrs_and_dialplan_access_round_trips(env):
    async with api(env) as client, anonymous(client) as anon:
        body = {"name": "carrier", "sources": ["192.0.2.0/24", " 2001:db8::1 "], "media_anywhere": True}
        assert (await anon.put("/api/admin/trunks/carrier", json=body)).status_code == 401
        r = await client.put("/api/admin/trunks/carrier", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "id": "carrier",
            "name": "carrier",
            "sources": ["192.0.2.0/24", "2001:db8::1/128"],
            "media_anywhere": True,
            "enabled": True,
            "outbound_address": None,
            "outbound_username": None,
            "outbound_password": None,
            "outbound_from_user": None,
            "outbound_max_calls": 0,
            "outbound_calls_per_second": 0.0,
            "outbound_register": False,
        }
        for sources in (["192.0.2.0/33"], ["example.com"], [], ["10.0.0.0/8\x00"]):
            bad = await client.put(
                "/api/admin/trunks/bad", json={"name": "bad", "sources": sources}, headers=AUTH
            )
            assert bad.status_code == 422, (sources, bad.text)
        assert [t["id"] for t in (await client.get("/api/admin/trunks", headers=AUTH)).json()] == ["carrier"]
        assert (await client.get("/api/admin/trunks/carrier", headers=AUTH)).json()["media_anywhere"]
        plan = {"pattern": "5*", "action": "agent", "access": "trunks_only"}
        r = await client.put("/api/admin/dialplans/trunk-only", json=plan, headers=AUTH)
        assert r.status_code == 200 and r.json()["access"] == "trunks_only"
        wrong = {**plan, "access": "everyone"}
        assert (
            await client.put("/api/admin/dialplans/trunk-only", json=wrong, headers=AUTH)
        ).status_code == 422
        records = dict(await read_config(env.kafka, env.topics.config))
        assert records["trunk:carrier"].sources == ("192.0.2.0/24", "2001:db8::1/128")
        assert records["dialplan:trunk-only"].access == "trunks_only"
        assert (await client.delete("/api/admin/trunks/carrier", headers=AUTH)).status_code == 204
        assert (await client.get("/api/admin/trunks/carrier", headers=AUTH)).status_code == 404
        await client.delete("/api/admin/dialplans/trunk-only", headers=AUTH)


async def test_events_endpoint_agrees_with_replay_call(env):
    topics = LogTopics()  # the real topic names: `sentiric replay call` reads those
    await ensure_topics(topics.specs(6, 24 * 3600 * 1000), bootstrap_servers=env.kafka)
    await ensure_topics(
        log_topics.platform_topics(partitions=6, calls_retention_ms=86_400_000), bootstrap_servers=env.kafka
    )
    call = next(c for c in day_of_calls(11, seed=99) if c.disposition == "answered")
    t = call.facts[3].occurred_at
    command = m.PlayAudio(**envelope(call.call_id, seq=1, source="streams", occurred_at=t), playback_id="p",
                          pcm=b"\x00\x01" * 8, text="hi")  # fmt: skip
    await env.produce(list(call.facts), topic=topics.calls)
    await env.produce([command], topic=log_topics.commands_topic("edge-1"))
    async with api(env, topics=topics, run_webhooks=False) as client:

        async def timeline():
            r = await client.get(f"/api/calls/{call.call_id}/events")
            return r.json() if r.status_code == 200 and len(r.json()) == len(call.facts) + 1 else None

        events = await wait_for(timeline)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sentiric.cli", "replay", "call", call.call_id, "--json",
        env=dict(os.environ, SENTIRIC_KAFKA_BOOTSTRAP=env.kafka),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    replayed = [json.loads(line) for line in out.decode().splitlines()]
    assert events == replayed
    assert [e["type"] for e in events].count("PlayAudio") == 1


async def test_admin_prompts_crud_by_kind_and_language_and_auto_dialplans(env):
    async with api(env) as client, anonymous(client) as anon:
        body = {"kind": "greeting", "language": "tr-TR", "text": "Liman Bisiklet, buyurun."}
        assert (await anon.put("/api/admin/prompts/tr-greeting", json=body)).status_code == 401
        r = await client.put("/api/admin/prompts/tr-greeting", json=body, headers=AUTH)
        assert r.status_code == 200, r.text
        assert r.json() == {"id": "tr-greeting", "uri": None, **body}
        for bad in (
            {"kind": "shout", "text": "x"},  # unknown kind
            {"kind": "greeting", "uri": "file:///x.wav"},  # a dialog prompt is synthesized: text needed
            {"language": "tr-TR"},  # neither text nor uri
            {"kind": "greeting", "text": "x", "language": "turkish"},
            {"kind": "greeting", "text": "a\x00b"},
        ):
            refused = await client.put("/api/admin/prompts/bad", json=bad, headers=AUTH)
            assert refused.status_code == 422, (bad, refused.text)
        listed = (await client.get("/api/admin/prompts", headers=AUTH)).json()
        assert [p["id"] for p in listed] == ["tr-greeting"]
        plan = {"pattern": "3000", "action": "agent", "language": "auto"}
        assert (await client.put("/api/admin/dialplans/auto", json=plan, headers=AUTH)).status_code == 200
        records = dict(await read_config(env.kafka, env.topics.config))
        assert (records["prompt:tr-greeting"].kind, records["prompt:tr-greeting"].language) == (
            "greeting",
            "tr-TR",
        )
        assert records["dialplan:auto"].language == "auto"
        assert (await client.delete("/api/admin/prompts/tr-greeting", headers=AUTH)).status_code == 204
        assert (await client.get("/api/admin/prompts/tr-greeting", headers=AUTH)).status_code == 404
        await client.delete("/api/admin/dialplans/auto", headers=AUTH)
