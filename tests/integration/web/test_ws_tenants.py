"""Tenants on the real stack (Kafka, the streams worker, the /ws gateway): a call is answered from its own
tenant's knowledge only, and every record of it on the log names that tenant.

Two tenants have a knowledge entry for the same question, each its own answer; each tenant's dialplan
routes its own number. Without the worker's scoping both entries match equally and one answer would
serve both callers (the other tenant's entry sorts first, so tenant A's caller would hear B's)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from websockets.asyncio.client import connect

from edge.uas.dialplan import Plan
from edge.uas.directory import StaticDirectory
from edge.ws import protocol as p
from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.consumer import read_call
from sentiric.eventlog.producer import EventProducer, record_key
from tests.integration.web.conftest import AUTH, WebStack, wait_until
from tests.integration.web.test_ws_gateway import Conversation
from tests.integration.web.test_ws_language import WAIT_S, next_reply

QUESTION = "what is the wifi password"


def entry(
    entity_id: str,
    tenant: str,
    answer: str,
    phrasings: tuple[str, ...] = (QUESTION, "what's the wifi password"),
) -> m.KnowledgeEntry:
    return m.KnowledgeEntry(
        event_id=uuid.uuid4(), entity_id=entity_id, occurred_at=datetime.now(UTC), source="test",
        trace_id="it", title=phrasings[0], phrasings=list(phrasings), answer=answer, language="en-US",
        tenant=tenant,
    )  # fmt: skip


A = entry("it-zz-wifi", "it-a", "The wifi password is apple.")
B = entry("it-aa-wifi", "it-b", "The wifi password is banana.")  # sorts first: no scoping, it would win
# a knowledge base of a few entries each, as a business has (one entry alone scores too low to answer)
OTHERS = [
    entry(f"it-{t}-{topic}", f"it-{t}", f"{t}: {topic}.", (f"what are your {topic}", f"tell me your {topic}"))
    for t in ("a", "b")
    for topic in ("opening hours", "prices")
]


@pytest.fixture
async def two_tenants(web_stack: WebStack) -> AsyncIterator[EventProducer]:
    gateway = web_stack.service.gateway
    before = gateway.directory
    gateway.directory = StaticDirectory(
        [Plan("it-a-desk", "7101", "agent", tenant="it-a"), Plan("it-b-desk", "7102", "agent", tenant="it-b")]
    )
    producer = EventProducer(**client_options(web_stack.settings))
    await producer.start()
    try:
        for record in (A, B, *OTHERS):
            await producer.publish_and_wait(record, topic=topics.CONFIG)
        yield producer
    finally:
        gateway.directory = before
        for record in (A, B, *OTHERS):  # the other tests' sample knowledge comes back when these are gone
            producer.tombstone(topics.CONFIG, record_key(record))
        await producer.flush()
        await producer.stop()


async def ask(stack: WebStack, number: str) -> tuple[str, str]:
    """Call ``number`` over /ws, ask the question once the agent listens; (call id, the answer)."""
    async with connect(stack.ws_url + f"?caller=it-tenant&to={number}", additional_headers=AUTH) as ws:
        call_id = p.SessionInfo.parse(await ws.recv()).call_id
        talk = Conversation(ws)
        await next_reply(talk, stack, 0, "the greeting")
        await wait_until(
            lambda: talk.find(p.StateChange, to_state="LISTENING"), "LISTENING", WAIT_S, stack.alive
        )
        await ws.send(json.dumps({"type": "text", "text": QUESTION}))
        answer = await next_reply(talk, stack, 1, f"the answer on {number}")
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)
        return call_id, answer.text


async def call_records(stack: WebStack, call_id: str) -> list[Any]:
    """Every record of the call on the log, facts and commands (read back from the broker), once its
    last facts are there."""
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        found = [d.record for d in await read_call(call_id, **client_options(stack.settings))]
        kinds = {type(r).__name__ for r in found}
        if {"CallEnded", "DialogStateChanged", "PlayAudio"} <= kinds:
            return found
        assert asyncio.get_running_loop().time() < deadline, kinds
        await asyncio.sleep(0.5)


async def test_each_tenants_caller_is_answered_from_its_own_knowledge(
    web_stack: WebStack, two_tenants: EventProducer
) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60  # the worker's config view follows the topic
    while (got := await ask(web_stack, "7101"))[1] != A.answer:
        assert got[1] != B.answer, "tenant A's caller heard tenant B's knowledge"
        assert loop.time() < deadline, got
        await asyncio.sleep(1)
    call_a = got[0]
    call_b, answer_b = await ask(web_stack, "7102")
    assert answer_b == B.answer
    for call_id, tenant in ((call_a, "it-a"), (call_b, "it-b")):
        records = await call_records(web_stack, call_id)
        kinds = {type(r).__name__ for r in records}
        assert {"CallInviteReceived", "DialplanResolved", "UtteranceTranscribed", "AgentReplied"} <= kinds
        assert {"SpeechSynthesized", "DialogStateChanged", "CallEnded"} <= kinds
        assert {(type(r).__name__, r.tenant) for r in records if r.tenant != tenant} == set()
