"""The sample booking action by text over /ws, on the real stack: Kafka, a streams worker, the gateway,
and the API (with the sample booking endpoint and its PostgreSQL) on the port the worker calls.

"I would like to book a service tomorrow at ten" → the agent asks for the name → gets it → confirms →
a booking row exists. With the endpoint down, the agent says it cannot book now and offers an
alternative — never silence."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from edge.ws import protocol as p
from projections.api.app import create_app
from projections.api.sample import SAMPLE_ACTION_ID
from projections.api.services import ApiConfig
from sentiric.eventlog.connection import client_options
from tests.integration.web.conftest import ADMIN_TOKEN, AUTH, WebStack, wait_until
from tests.integration.web.test_ws_gateway import Conversation

WAIT_S = 180.0


class Api:
    """The API (sample booking endpoint included) served by uvicorn on a given loopback port."""

    def __init__(self, client: dict[str, Any], port: int, dsn: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        config = ApiConfig(
            dsn=dsn, client=client, admin_token=ADMIN_TOKEN, run_webhooks=False, run_projector=False,
            sample_action_url=f"{self.url}/api/sample/bookings",
        )  # fmt: skip
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.05)

    async def sample_action(self) -> dict[str, Any]:
        """The sample action, once the API has created it (on first run)."""
        async with httpx.AsyncClient(base_url=self.url, headers=AUTH) as http:
            for _ in range(300):
                r = await http.get(f"/api/admin/actions/{SAMPLE_ACTION_ID}")
                if r.status_code == 200:
                    found: dict[str, Any] = r.json()
                    return found
                await asyncio.sleep(0.1)
        raise AssertionError("the sample action was not created")

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@pytest.fixture
async def booking_db(postgres_dsn: str) -> AsyncIterator[str]:
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute("DROP DATABASE IF EXISTS web_booking_it WITH (FORCE)")
    await admin.execute("CREATE DATABASE web_booking_it")
    await admin.close()
    yield postgres_dsn.rsplit("/", 1)[0] + "/web_booking_it"


async def say_and_hear(ws: Any, talk: Conversation, stack: WebStack, text: str) -> p.Reply:
    """Type `text` and return the agent's next reply."""
    before = sum(isinstance(m, p.Reply) for m in talk.messages)
    await ws.send(json.dumps({"type": "text", "text": text}))

    def the_reply() -> Any:
        replies = [m for m in talk.messages if isinstance(m, p.Reply)]
        return replies[before] if len(replies) > before else None

    reply: p.Reply = await wait_until(the_reply, f"the reply to {text!r}", WAIT_S, stack.alive)
    await wait_until(
        lambda: talk.find(p.PlaybackEvent, playback_id=reply.reply_id, event="finished"),
        f"the reply to {text!r} played", WAIT_S, stack.alive,
    )  # fmt: skip
    return reply


async def conversation(
    stack: WebStack, query: str = "?caller=it-book&to=help"
) -> AsyncIterator[tuple[Any, Conversation]]:
    async with connect(stack.ws_url + query, additional_headers=AUTH) as ws:
        p.SessionInfo.parse(await ws.recv())
        talk = Conversation(ws)
        greeting = await wait_until(lambda: talk.find(p.Reply), "the greeting", WAIT_S, stack.alive)
        await wait_until(
            lambda: talk.find(p.PlaybackEvent, playback_id=greeting.reply_id, event="finished"),
            "the greeting played", WAIT_S, stack.alive,
        )  # fmt: skip
        yield ws, talk
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)


async def test_booking_by_text_then_with_the_endpoint_down(web_stack: WebStack, booking_db: str) -> None:
    settings = web_stack.settings  # the worker's sample_action_url points at api_port
    api = Api(client_options(settings), settings.api_port, booking_db)
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.url, headers=AUTH) as http:
            await api.sample_action()
            await asyncio.sleep(2.0)  # the worker's config view reads it (it follows the same topic)
            tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
            async for ws, talk in conversation(web_stack):
                asked = await say_and_hear(
                    ws, talk, web_stack, "I would like to book a service tomorrow at ten"
                )
                assert asked.text == "What name should I put the booking under?"
                confirm = await say_and_hear(ws, talk, web_stack, "Alice Smith")
                assert confirm.text.startswith(
                    "Shall I book a service appointment for Alice Smith on tomorrow, "
                )
                assert confirm.text.endswith(" at 10 am?")
                done = await say_and_hear(ws, talk, web_stack, "Yes please")
                assert done.text.startswith("You're booked in, Alice Smith: tomorrow, "), done.text
                rows = (await http.get("/api/sample/bookings")).json()
                assert [(b["date"], b["time"], b["name"]) for b in rows] == [
                    (tomorrow.isoformat(), "10:00", "Alice Smith")
                ]
                assert " ".join(rows[0]["booking_id"]) in done.text
    finally:
        await api.stop()
    # The endpoint down: the agent apologises and offers an alternative.
    async for ws, talk in conversation(web_stack):
        await say_and_hear(ws, talk, web_stack, "Can I book a service on Monday at 3 pm?")
        confirm = await say_and_hear(ws, talk, web_stack, "Bob")
        assert confirm.text.startswith("Shall I book a service appointment for Bob on ")
        sorry = await say_and_hear(ws, talk, web_stack, "yes")
        assert sorry.text.startswith("I'm sorry, I can't book right now.") and "drop by" in sorry.text
