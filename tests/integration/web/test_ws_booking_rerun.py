"""`sentiric replay rerun` of a call that booked, on the real stack: the booking is made by text over
/ws (Kafka, the streams worker, the API with the sample booking endpoint and its PostgreSQL), then the
re-run runs as a user runs it (a subprocess reading the log and the config topic). Its action calls
are answered from the call's recorded results: no second booking row, however often it runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from sentiric.eventlog.connection import client_options
from tests.integration.web.conftest import AUTH, WebStack
from tests.integration.web.test_ws_booking import Api, booking_db, conversation, say_and_hear

__all__ = ["booking_db"]  # the fixture, imported for this module's test


async def bookings_of(http: httpx.AsyncClient, call_id: str) -> list[dict[str, str]]:
    rows = (await http.get("/api/sample/bookings")).json()
    return [r for r in rows if r["call_id"] == call_id]


async def test_a_booking_call_reruns_against_the_recorded_results(
    web_stack: WebStack, booking_db: str, tmp_path: Path
) -> None:
    settings = web_stack.settings
    api = Api(client_options(settings), settings.api_port, booking_db)
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.url, headers=AUTH) as http:
            await api.sample_action()
            await asyncio.sleep(2.0)  # the worker's config view reads it
            async for ws, talk in conversation(web_stack):
                await say_and_hear(ws, talk, web_stack, "I would like to book a service tomorrow at ten")
                await say_and_hear(ws, talk, web_stack, "Carol Jones")
                done = await say_and_hear(ws, talk, web_stack, "Yes please")
                assert done.text.startswith("You're booked in, Carol Jones: tomorrow, "), done.text
            rows = (await http.get("/api/sample/bookings")).json()
            (booked,) = [r for r in rows if r["name"] == "Carol Jones"]
            call_id = booked["call_id"]

            report = tmp_path / "rerun.json"
            run = await asyncio.to_thread(
                web_stack.cli, "replay", "rerun", call_id, "--stt", "recorded", "--report", str(report),
                timeout=180,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout + run.stderr
            assert "1 calls, 3 turns re-run: no differences" in run.stdout, run.stdout
            assert "[book_service_appointment completed]" in run.stdout, run.stdout
            turns = json.loads(report.read_text())["calls"][0]["turns"]
            (action,) = turns[2]["rerun"]["actions"]
            assert action["outcome"] == "completed" and action["name"] == "book_service_appointment"
            assert json.loads(action["result"])["booking_id"] == booked["booking_id"]
            assert json.loads(action["arguments"]) == {
                "date": booked["date"], "name": "Carol Jones", "time": "10:00"
            }  # fmt: skip
            assert turns[2]["rerun"]["reply"] == turns[2]["recorded"]["reply"] == done.text

            # Today's action under another tool name: the recording has no result for its call,
            # which the diff names, and the re-run's dialog says the fallback (still no booking).
            listed = (await http.get("/api/admin/actions")).json()
            for a in listed:
                a["name"] = "book_service_v2"
            actions = tmp_path / "actions.json"
            actions.write_text(json.dumps(listed))
            run = await asyncio.to_thread(
                web_stack.cli, "replay", "rerun", call_id, "--stt", "recorded", "--actions", str(actions),
                timeout=180,
            )  # fmt: skip
            assert run.returncode == 0, run.stdout + run.stderr
            out = run.stdout
            assert "1 turns changed in 1 calls" in out and "1 with no recording" in out, out
            assert "action 1 recorded: book_service_appointment(" in out, out
            assert "action 1 re-run:   book_service_v2(" in out, out
            assert "(no recording for this action call; answered as a failure)" in out, out
            assert "I'm sorry, I can't book right now." in out, out
            assert await bookings_of(http, call_id) == [booked]
    finally:
        await api.stop()
