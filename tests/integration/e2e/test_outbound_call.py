"""An outbound call end to end (issue 14): `POST /api/calls` on the real API → OriginateCall on the edge's
command topic → the edge's INVITE reaches sipp as the callee (built-in `uas` scenario), which answers →
the real streams worker greets the callee like an inbound caller (speech energy in the edge's RTP on
the wire, captured by tshark) → the CDR says `outbound` / `answered`. The test then hangs up with a
`Hangup` command and sipp, which waits for the BYE, ends cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from projections.api.app import create_app
from projections.api.services import ApiConfig
from schemas import models as m
from schemas.envelope import envelope
from sentiric.eventlog.producer import EventProducer
from sentiric.net import free_port_for_both
from tests.integration.e2e.stack import CallLog, Capture, Worker, is_, pcm_of, rms, served, start_edge
from tests.integration.projections.conftest import create_database, drop_database
from tests.support.sipp import run_sipp

TOKEN = "outbound-admin-token-0123456789"


@contextlib.asynccontextmanager
async def api(kafka: str, dsn: str, node: str) -> AsyncIterator[httpx.AsyncClient]:
    config = ApiConfig(dsn=dsn, client={"bootstrap_servers": kafka}, admin_token=TOKEN, originate_edge=node)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=headers) as client:
            yield client


async def test_post_calls_places_an_outbound_call_the_agent_greets(
    fresh_kafka: str, postgres_dsn: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    edge = await start_edge(fresh_kafka, tmp_path / "edge", require_worker=True)
    worker = Worker(fresh_kafka, tmp_path / "worker", machine_cache_dir)
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    dsn = await create_database(postgres_dsn)
    settings = edge.settings
    capture = Capture(tmp_path / "wire.pcap", settings.rtp_port_min, settings.rtp_port_max)
    try:
        worker.start()
        await log.start()
        await worker.ready()
        await served(edge)
        await capture.start()
        port = free_port_for_both(host="127.0.0.1")
        sipp = asyncio.create_task(
            run_sipp(0, tmp_path / "sipp", scenario="uas", local_port=port, timeout_s=90)
        )  # answers at once, then waits for our BYE
        await asyncio.sleep(0.5)
        async with api(fresh_kafka, dsn, settings.node_id) as client:
            r = await client.post("/api/calls", json={"to": f"sip:1000@127.0.0.1:{port}"})
            assert r.status_code == 202, r.text
            call_id = r.json()["call_id"]
            greeting = await log.wait_for(is_(m.PlaybackFinished, call_id=call_id), "the greeting played")
            started = await log.wait_for(is_(m.PlaybackStarted, call_id=call_id), "the greeting started")
            async with EventProducer(bootstrap_servers=fresh_kafka) as producer:
                hangup = m.Hangup(**envelope(call_id, seq=99, source="test"), reason="test_done")
                await producer.publish_and_wait(hangup, topic=settings.commands_topic)
            result = await sipp
            assert result.returncode == 0, result.describe()
            await log.wait_for(is_(m.MediaPortReleased, call_id=call_id), "the end of the call")

            async def projected() -> dict[str, object] | None:
                got = await client.get(f"/api/calls/{call_id}")
                body = got.json() if got.status_code == 200 else None
                return body if body and body.get("disposition") == "answered" else None

            for _ in range(200):  # the projection catches up within a minute
                cdr = await projected()
                if cdr is not None:
                    break
                await asyncio.sleep(0.3)
            else:
                raise AssertionError("the CDR never showed the call answered")
        packets = await capture.stop()
    finally:
        await capture.stop()
        await log.stop()
        await edge.stop()
        worker.stop()
        await drop_database(postgres_dsn, dsn)

    assert cdr["direction"] == "outbound" and cdr["callee"] == "1000"
    assert greeting.record.reason == "completed" and not greeting.record.interrupted
    invite = next(r.record for r in log.of(call_id) if isinstance(r.record, m.CallInviteReceived))
    assert invite.direction == "outbound"
    rtp_port = next(r.record for r in log.of(call_id) if isinstance(r.record, m.MediaPortAllocated)).rtp_port
    begin, end = started.record.occurred_at.timestamp(), greeting.record.occurred_at.timestamp()
    spoken = [p for p in packets if p.src[1] == rtp_port and begin - 0.1 <= p.at <= end + 0.1]
    assert spoken, "no RTP from the edge while the greeting played"
    assert rms(pcm_of(spoken)) > 300  # speech, not the silence the edge sends between prompts
