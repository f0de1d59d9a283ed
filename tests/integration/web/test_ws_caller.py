"""Caller identification and caller context over /ws, on the real stack: Kafka, a streams worker, the
gateway (following the config topic), and an action endpoint on the port the worker may call.

A caller whose number is a configured contact is greeted by name; an unknown number gets the plain
greeting. An action's request carries the caller's number and profile; its result writes a new name
back into the call's context, and the next reply uses it."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
import uvicorn
from fastapi import FastAPI, Request
from websockets.asyncio.client import connect

from edge.ws import protocol as p
from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.producer import EventProducer
from tests.integration.web.conftest import AUTH, WebStack, sample_url, wait_until
from tests.integration.web.test_ws_booking import say_and_hear
from tests.integration.web.test_ws_gateway import Conversation

WAIT_S = 180.0
KNOWN = "+4930123456"
UNKNOWN = "+15550001"


def _env(entity_id: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(), "entity_id": entity_id, "occurred_at": datetime.now(UTC),
        "source": "test", "trace_id": "test",
    }  # fmt: skip


class AccountEndpoint:
    """The action's endpoint, on the port the worker trusts (its sample URL): records each request and
    answers with a name to write back into the call's context."""

    def __init__(self, port: int, path: str) -> None:
        self.requests: list[dict[str, Any]] = []
        app = FastAPI()

        @app.post(path)
        async def account(request: Request) -> dict[str, Any]:
            self.requests.append(json.loads(await request.body()))
            return {"status": "ok", "context": {"name": "Bob Jones", "account_no": "A-42"}}

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> AccountEndpoint:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


@pytest.fixture
async def configured(web_stack: WebStack) -> AsyncIterator[str]:
    """A contact for KNOWN and an `account` action on the sample URL, on the config topic; removed after."""
    url = sample_url(web_stack.settings)
    contact = m.Contact(
        **_env("it-alice"), numbers=(KNOWN.replace("30", "30 "),), name="Alice Smith",
        profile='{"customer_no": "C-1001"}',
    )  # fmt: skip
    parameters = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    account = m.Action(
        **_env("it-account"), name="check_account", description="check the account", url=url,
        parameters=json.dumps(parameters), secret="it-secret-0123456789", timeout_s=5.0, retries=0,
        triggers=("check my account",), confirm_text="Shall I check the account of {name}?",
        done_text="Done, {context.name}. Your account is {context.account_no}.", fallback_text="",
        language="en-US", enabled=True,
    )  # fmt: skip
    async with EventProducer(**client_options(web_stack.settings)) as producer:
        for record in (contact, account):
            await producer.publish_and_wait(record, topic=topics.CONFIG)
        await asyncio.sleep(2.0)  # the worker's and the gateway's config views follow the topic
        try:
            yield url
        finally:
            for key in ("contact:it-alice", "action:it-account"):
                producer.tombstone(topics.CONFIG, key)
            await producer.flush()


async def greeted(stack: WebStack, caller: str) -> tuple[Any, Conversation, p.Reply]:
    ws = await connect(f"{stack.ws_url}?caller={quote(caller)}&to=help", additional_headers=AUTH)
    p.SessionInfo.parse(await ws.recv())
    talk = Conversation(ws)
    greeting: p.Reply = await wait_until(lambda: talk.find(p.Reply), "the greeting", WAIT_S, stack.alive)
    await wait_until(
        lambda: talk.find(p.PlaybackEvent, playback_id=greeting.reply_id, event="finished"),
        "the greeting played", WAIT_S, stack.alive,
    )  # fmt: skip
    return ws, talk, greeting


async def hang_up(ws: Any, talk: Conversation) -> None:
    await ws.send(json.dumps({"type": "hangup"}))
    await asyncio.wait_for(talk.closed.wait(), 10)
    await ws.close()


async def test_known_caller_greeted_by_name_and_an_action_writes_the_context_back(
    web_stack: WebStack, configured: str
) -> None:
    path = configured.split(str(web_stack.settings.api_port), 1)[1]
    async with AccountEndpoint(web_stack.settings.api_port, path) as endpoint:
        ws, talk, greeting = await greeted(web_stack, KNOWN)
        try:
            assert greeting.text == "Hello Alice Smith, thank you for calling. How can I help you?"
            # The known caller's name fills the action's name slot: no question, straight to the confirmation.
            confirm = await say_and_hear(ws, talk, web_stack, "Please check my account")
            assert confirm.text == "Shall I check the account of Alice Smith?"
            done = await say_and_hear(ws, talk, web_stack, "yes")
            assert done.text == "Done, Bob Jones. Your account is A-42."
            # The write-back is the call's context now: the next action confirms for Bob Jones.
            again = await say_and_hear(ws, talk, web_stack, "check my account again")
            assert again.text == "Shall I check the account of Bob Jones?"
        finally:
            await hang_up(ws, talk)
    (request,) = endpoint.requests
    assert request["arguments"] == {"name": "Alice Smith"}
    context = request["context"]
    assert (context["caller"], context["known"], context["contact_id"], context["name"]) == (
        KNOWN,
        True,
        "it-alice",
        "Alice Smith",
    )
    assert context["profile"] == {"customer_no": "C-1001"}


async def test_an_unknown_caller_gets_the_plain_greeting(web_stack: WebStack, configured: str) -> None:
    ws, talk, greeting = await greeted(web_stack, UNKNOWN)
    try:
        assert greeting.text == "Hello, thank you for calling. How can I help you?"
    finally:
        await hang_up(ws, talk)
