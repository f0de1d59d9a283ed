"""Operator actions on a live call through the REST API, end to end: sipp calls a real edge, the API
(in-process, its projector on the real PostgreSQL) sends commands on the real Kafka, tshark watches
the wire. Say-text is heard as speech on the RTP; hang-up sends the BYE; each command names who asked."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import pytest

from edge.app import EdgeApp
from projections.api.app import create_app
from projections.api.services import ApiConfig
from tests.integration.e2e.stack import Capture, pcm_of, rms
from tests.integration.projections.conftest import create_database, drop_database
from tests.support.sipp import edge_settings, run_sipp
from tests.support.waiting import until

TOKEN = "test-admin-token-live-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OPERATOR = "bootstrap admin (SENTIRIC_ADMIN_TOKEN)"  # the bootstrap token's subject


@pytest.fixture
async def edge(kafka: str, tmp_path: Path) -> AsyncIterator[EdgeApp]:
    # no dialog worker runs here: the greeting watchdog is off, so the call stays up for the operator
    app = EdgeApp(edge_settings(kafka, tmp_path / "home", tts_engine="espeak", greeting_timeout_s=0.0))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def api(kafka: str, postgres_dsn: str, edge: EdgeApp) -> AsyncIterator[httpx.AsyncClient]:
    dsn = await create_database(postgres_dsn)
    config = ApiConfig(
        dsn=dsn,
        client={"bootstrap_servers": kafka},
        admin_token=TOKEN,
        recordings_root=edge.settings.recordings_root,
    )
    app = create_app(config)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://api", headers=AUTH) as client:
                yield client
    finally:
        await drop_database(postgres_dsn, dsn)


async def test_operator_says_a_text_then_hangs_up_the_live_call(
    api: httpx.AsyncClient, edge: EdgeApp, tmp_path: Path
) -> None:
    number = f"5{uuid.uuid4().int % 10**6:06d}"
    capture = Capture(tmp_path / "wire.pcap", edge.settings.rtp_port_min, edge.settings.rtp_port_max)
    await capture.start()
    sipp = asyncio.create_task(
        run_sipp(edge.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, timeout_s=60)
    )
    try:

        async def answered() -> Any:
            r = await api.get("/api/calls", params={"callee": number})
            items = [c for c in r.json()["items"] if c["answered_at"]]
            return items[0] if items else None

        call_id = (await until(answered, "answered call in the CDR"))["call_id"]

        # wrong bodies and unknown calls first, while the call is live
        assert (await api.post(f"/api/calls/{call_id}/say", json={})).status_code == 422
        assert (await api.post(f"/api/calls/{call_id}/say", json={"text": ""})).status_code == 422
        bad = await api.post(f"/api/calls/{call_id}/transfer", json={"target": "http://x"})
        assert bad.status_code == 422
        bad = await api.post(
            f"/api/calls/{call_id}/transfer", json={"target": "sip:a@127.0.0.1", "mode": "x"}
        )
        assert bad.status_code == 422
        assert (await api.post(f"/api/calls/{uuid.uuid4()}/hangup", json={})).status_code == 404

        started_rec = await api.post(f"/api/calls/{call_id}/recording/start", json={"format": "wav"})
        assert started_rec.status_code == 202, started_rec.text
        recording_id = started_rec.json()["detail"]["recording_id"]
        bad_format = await api.post(f"/api/calls/{call_id}/recording/start", json={"format": "ogg"})
        assert bad_format.status_code == 422

        text = "Hello, this is the operator. Your order has shipped."
        said = await api.post(f"/api/calls/{call_id}/say", json={"text": text})
        assert said.status_code == 202, said.text
        assert said.json()["requested_by"] and said.json()["command"] == "PlayAudio"
        playback_id = said.json()["detail"]["playback_id"]

        async def played() -> Any:
            r = await api.get(f"/api/calls/{call_id}")
            done = [p for p in r.json()["playbacks"] if p["playback_id"] == playback_id and p["finished_at"]]
            return done[0] if done else None

        playback = await until(played, "operator playback finished")
        stopped = await api.post(f"/api/calls/{call_id}/recording/stop", json={"recording_id": recording_id})
        assert stopped.status_code == 202, stopped.text

        async def recorded() -> Any:
            call = (await api.get(f"/api/calls/{call_id}")).json()
            return call["recording_uri"]

        recording = Path(unquote(urlparse(await until(recorded, "the operator's recording")).path))
        assert recording.name == f"{call_id}-{recording_id}.wav"
        assert recording.parent == edge.settings.recordings_root.resolve()
        assert await asyncio.to_thread(lambda: recording.stat().st_size) > 16_000  # > 1 s of 8 kHz audio
        muted = await api.post(f"/api/calls/{call_id}/mute")
        assert muted.status_code == 202 and muted.json()["command"] == "MuteAgent", muted.text
        hung = await api.post(f"/api/calls/{call_id}/hangup", json={})
        assert hung.status_code == 202, hung.text
        result = await asyncio.wait_for(sipp, 30)
    finally:
        if not sipp.done():
            sipp.cancel()
            with contextlib.suppress(BaseException):
                await sipp
        packets = await capture.stop()
    assert result.last("SuccessfulCall(C)") == 1, result.describe()  # sipp received the edge's BYE

    async def ended() -> Any:
        r = await api.get(f"/api/calls/{call_id}")
        return r.json() if r.json()["ended_at"] else None

    call = await until(ended, "ended call in the CDR")
    assert call["end_reason"] == "operator_hangup" and call["disposition"] == "answered"
    assert call["hangup_by"] == "operator"
    again = await api.post(f"/api/calls/{call_id}/hangup", json={})
    assert again.status_code == 409, again.text

    # The caller heard the operator's words: speech on the RTP from the edge while they played.
    begin = datetime.fromisoformat(playback["started_at"]).timestamp()
    end = datetime.fromisoformat(playback["finished_at"]).timestamp()
    spoken = pcm_of([p for p in packets if p.src[1] == call["rtp_port"] and begin - 0.1 <= p.at <= end + 0.1])
    assert spoken.size / 8000 > 1.5 and rms(spoken) > 300

    # The timeline shows both commands with who asked, and what the edge synthesized from the text.
    events = (await api.get(f"/api/calls/{call_id}/events")).json()
    by_type = {e["type"]: e for e in events}
    assert by_type["PlayAudio"]["text"] == text and by_type["PlayAudio"]["requested_by"] == OPERATOR
    assert (by_type["Hangup"]["reason"], by_type["Hangup"]["requested_by"]) == ("operator_hangup", OPERATOR)
    assert (by_type["MuteAgent"]["muted"], by_type["MuteAgent"]["requested_by"]) == (True, OPERATOR)
    synthesized = by_type["SpeechSynthesized"]
    assert (synthesized["text"], synthesized["reply_id"]) == (text, playback_id)
