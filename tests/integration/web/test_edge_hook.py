"""The gateway inside the edge process: `EdgeApp` serves /ws, and a command on the edge's own command
topic reaches the web call through the edge's command consumer (no second consumer)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from edge.app import EdgeApp
from edge.ws import protocol as p
from schemas import models as m
from sentiric.eventlog.producer import EventProducer
from tests.support.sipp import edge_settings


async def test_edge_serves_web_calls_and_routes_their_commands(kafka: str, tmp_path: Path) -> None:
    token = "edge-hook-it-admin-token-0123"
    app = EdgeApp(edge_settings(kafka, tmp_path / "home", ws_port=0, admin_token=token))
    await app.start()
    producer = EventProducer(bootstrap_servers=kafka)
    await producer.start()
    try:
        assert app.web is not None and app.web.commands is None  # the edge's consumer feeds it
        auth = {"Authorization": f"Bearer {token}"}
        async with connect(f"ws://127.0.0.1:{app.web.port}/ws", additional_headers=auth) as ws:
            call_id = p.SessionInfo.parse(await ws.recv()).call_id
            assert app.web.gateway.owns(call_id)
            play = m.PlayAudio(
                event_id=uuid.uuid4(), call_id=call_id, seq=1, occurred_at=datetime.now(UTC), source="dialog",
                trace_id=call_id, playback_id="p-1", pcm=b"\x10\x00" * 3200, sample_rate=16000, barge_in=True,
            )  # fmt: skip
            producer.publish(play, topic=app.settings.commands_topic, key=call_id)
            # A streams worker may be greeting this call too: keep only what belongs to p-1.
            events: list[p.PlaybackEvent] = []
            audio = bytearray()
            while not events or events[-1].event != "finished":
                frame = await asyncio.wait_for(ws.recv(), 30)
                if isinstance(frame, bytes):
                    if events:  # playbacks are sequential: audio after p-1 started is p-1's
                        audio += frame
                    continue
                message = p.parse_server(frame)
                if isinstance(message, p.PlaybackEvent) and message.playback_id == "p-1":
                    events.append(message)
            assert events == [
                p.PlaybackEvent("p-1", "started", 200, 0),
                p.PlaybackEvent("p-1", "finished", 200, 200),
            ]
            assert bytes(audio) == b"\x10\x00" * 3200
        await asyncio.sleep(0.2)
        assert not app.web.gateway.owns(call_id)
    finally:
        await producer.stop()
        await app.stop()


async def test_a_web_call_no_worker_can_serve_is_closed_1013(kafka: str, tmp_path: Path) -> None:
    token = "edge-hook-it-admin-token-0123"
    settings = edge_settings(
        kafka, tmp_path / "home", ws_port=0, admin_token=token, require_worker=True, worker_timeout_s=2.0
    )
    app = EdgeApp(settings)
    await app.start()
    try:
        assert app.web is not None and app.placement is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15  # an earlier test's worker may still look live for worker_timeout_s
        while any(app.placement.refusal(str(uuid.uuid4())) is None for _ in range(20)):
            assert loop.time() < deadline, app.workers.workers()
            await asyncio.sleep(0.2)
        auth = {"Authorization": f"Bearer {token}"}
        async with connect(f"ws://127.0.0.1:{app.web.port}/ws", additional_headers=auth) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, "try again later")
        assert app.web.gateway.links == {}  # no call was opened
    finally:
        await app.stop()
