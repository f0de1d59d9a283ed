"""The sample booking by voice: sipp calls the edge and speaks (hibari, as RTP from a pcap made here),
a streams worker with the embedded engines fills the slots, the API's sample endpoint books the slot.

"I would like to book a service tomorrow at ten" → the agent asks for the name → "Alice Smith" → the
agent confirms → "Yes please" → a booking row exists and the agent says so. The caller's three turns
are spaced so that each reply has been said before the next turn starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from schemas import models as m
from sentiric.net import free_port
from tests.fixtures.e2e.make_pcaps import Stream, hibari_8k, pcap_bytes
from tests.integration.e2e.stack import CallLog, Worker, caller_scenario, is_, served, settled, start_edge
from tests.integration.web.conftest import AUTH
from tests.integration.web.test_ws_booking import Api
from tests.support.sipp import run_sipp

TURNS = ("I would like to book a service tomorrow at ten.", "Alice Smith.", "Yes, please.")
GAP_MS = 22_000  # after each turn: the worker transcribes, answers and the edge plays the reply


def spoken_pcap(path: Path) -> int:
    """The caller's turns as one PCMU pcap (hibari's neural voice, seed 0, 8 kHz); returns its length
    in ms. Not espeak-ng: through µ-law, Whisper hears its "book a service" as "more service"."""
    stream = Stream(ssrc=0x5E171C17)
    stream.silence(200)
    for i, text in enumerate(TURNS):
        stream.audio(hibari_8k(text), marker_first=i == 0)
        stream.silence(GAP_MS)
    path.write_bytes(pcap_bytes(stream.packets))
    return round(stream.at * 1000)


@pytest.fixture
async def booking_db(postgres_dsn: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute("DROP DATABASE IF EXISTS e2e_booking_it WITH (FORCE)")
    await admin.execute("CREATE DATABASE e2e_booking_it")
    await admin.close()
    yield postgres_dsn.rsplit("/", 1)[0] + "/e2e_booking_it"


async def test_a_caller_books_a_service_by_voice(
    fresh_kafka: str, booking_db: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    port = free_port()
    api = Api({"bootstrap_servers": fresh_kafka}, port, booking_db)
    edge = await start_edge(fresh_kafka, tmp_path / "edge", require_worker=True)
    sample = f"http://127.0.0.1:{port}/api/sample/bookings"
    worker = Worker(fresh_kafka, tmp_path / "worker", machine_cache_dir, SENTIRIC_SAMPLE_ACTION_URL=sample)
    log = CallLog(fresh_kafka, edge.settings.node_id, alive=worker.alive)
    await api.start()
    try:
        await api.sample_action()
        worker.start()
        await log.start()
        await worker.ready()
        await served(edge)
        pcap = tmp_path / "booking.pcap"
        pcap_ms = await asyncio.to_thread(spoken_pcap, pcap)
        scenario = caller_scenario(tmp_path, pcap, before_ms=6000, pcap_ms=pcap_ms, after_ms=5000)
        await settled(edge)
        result = await run_sipp(edge.sip_port, tmp_path, scenario=scenario, timeout_s=pcap_ms / 1000 + 90)
        assert result.returncode == 0, result.describe()
        try:
            done = await log.wait_for(is_(m.ActionCompleted), "ActionCompleted", within_s=60)
        except AssertionError:
            said = [(type(r.record).__name__, r.record.text) for r in log.records
                    if isinstance(r.record, m.UtteranceTranscribed | m.AgentReplied)]  # fmt: skip
            raise AssertionError(f"no booking; the conversation: {said}") from None
        call_id = done.record.call_id
        replies = [r.record for r in log.of(call_id) if isinstance(r.record, m.AgentReplied)]
        intents = [r.intent for r in replies]
        wanted = ["action:book-service:ask:name", "action:book-service:confirm", "action:book-service:done"]
        assert intents[-3:] == wanted, [(r.intent, r.text) for r in replies]
        assert replies[-2].text.startswith("Shall I book a service appointment for ")
        assert replies[-2].text.endswith(" at 10 am?")
        requested = next(r.record for r in log.of(call_id) if isinstance(r.record, m.ActionRequested))
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        async with httpx.AsyncClient(base_url=api.url, headers=AUTH) as http:
            rows = (await http.get("/api/sample/bookings")).json()
        assert [(b["call_id"], b["date"], b["time"]) for b in rows] == [(call_id, tomorrow, "10:00")], rows
        assert "smith" in rows[0]["name"].lower(), (rows, requested.arguments)  # as Whisper heard it
        assert replies[-1].text.startswith(f"You're booked in, {rows[0]['name']}: tomorrow, ")
        # every reply was voiced and played to the caller
        played = {r.record.playback_id for r in log.of(call_id) if isinstance(r.record, m.PlaybackFinished)}
        assert {r.reply_id for r in replies[-3:]} <= played
    finally:
        await log.stop()
        await edge.stop()
        worker.stop()
        await api.stop()
