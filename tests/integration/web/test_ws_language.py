"""Language per call over /ws on the real stack (Kafka, the streams worker, the gateway): extension 2000
is the Turkish sample business, and a dialplan with language `auto` follows the caller's language."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest
import soxr
from websockets.asyncio.client import connect

from edge.uas.dialplan import Plan
from edge.uas.directory import StaticDirectory
from edge.ws import protocol as p
from schemas import models as m
from sentiric.eventlog import topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.consumer import read_call
from sentiric.eventlog.producer import EventProducer, record_key
from sentiric.sample_business import SAMPLE_TENANT
from streams.dialog.prompts import BUILT_IN, with_caller
from streams.engines.espeak import EspeakTTS
from streams.engines.knowledge import load_knowledge
from tests.integration.web.conftest import AUTH, WebStack, wait_until
from tests.integration.web.test_ws_gateway import Conversation

WAIT_S = 180.0
KB = {e.entity_id: e for e in load_knowledge()}
SPELLINGS = ("çalışma saatleriniz nedir", "ÇALIŞMA SAATLERİNİZ", "calisma saatleriniz")


def replies(talk: Conversation) -> list[p.Reply]:
    return [m for m in talk.messages if isinstance(m, p.Reply)]


async def next_reply(talk: Conversation, stack: WebStack, seen: int, what: str) -> p.Reply:
    got = await wait_until(lambda: len(replies(talk)) > seen, what, WAIT_S, stack.alive)
    assert got
    return replies(talk)[seen]


async def timeline(stack: WebStack, call_id: str) -> str:
    for _ in range(50):
        result = await asyncio.to_thread(stack.cli, "replay", "call", call_id)
        if "CallEnded" in result.stdout:
            return result.stdout
        await asyncio.sleep(0.2)
    raise AssertionError(f"no CallEnded in the timeline of {call_id}")


async def test_typed_turkish_to_2000_gets_the_turkish_hours_answer_for_every_spelling(
    web_stack: WebStack,
) -> None:
    hours = KB["tr-hours"]
    async with connect(web_stack.ws_url + "?caller=it-tr&to=2000", additional_headers=AUTH) as ws:
        call_id = p.SessionInfo.parse(await ws.recv()).call_id
        talk = Conversation(ws)
        greeting = await next_reply(talk, web_stack, 0, "the greeting")
        assert greeting.text == with_caller(BUILT_IN["tr"]["greeting"], None)
        await wait_until(
            lambda: talk.find(p.PlaybackEvent, playback_id=greeting.reply_id, event="finished"),
            "the Turkish greeting played",
            WAIT_S,
            web_stack.alive,
        )
        for i, text in enumerate(SPELLINGS, start=1):
            await ws.send(json.dumps({"type": "text", "text": text}))
            answer = await next_reply(talk, web_stack, i, f"the answer to {text!r}")
            assert answer.text == hours.answer, text
            done = await wait_until(
                lambda a=answer: talk.find(p.PlaybackEvent, playback_id=a.reply_id, event="finished"),
                "the Turkish answer played",
                WAIT_S,
                web_stack.alive,
            )
            audio = np.frombuffer(bytes(talk.audio[answer.reply_id]), dtype="<i2").astype(np.float64)
            assert done.duration_ms > 1000 and np.sqrt(np.mean(audio**2)) > 300  # speech, not silence
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)
    lines = (await timeline(web_stack, call_id)).splitlines()
    assert any(" DialplanResolved " in line and "tr-TR" in line for line in lines), lines
    records = [d.record for d in await read_call(call_id, **client_options(web_stack.settings))]
    assert records and {r.tenant for r in records} == {SAMPLE_TENANT}  # facts and commands alike


@pytest.fixture
def auto_plan(web_stack: WebStack) -> Iterator[None]:
    """The gateway resolves 3000 by a dialplan with language `auto` for the test's duration."""
    gateway = web_stack.service.gateway
    before = gateway.directory
    # the Turkish sample business's (its knowledge is the tenant's): a plan that follows the caller
    gateway.directory = StaticDirectory(
        [Plan("auto", "3000", "agent", language="auto", tenant=SAMPLE_TENANT)]
    )
    yield
    gateway.directory = before


def turkish_speech(text: str) -> bytes:
    speech = EspeakTTS().synthesize(text, "tr")
    pcm = np.frombuffer(speech.pcm, dtype="<i2")
    if speech.sample_rate != p.AUDIO_RATE:
        pcm = soxr.resample(pcm, speech.sample_rate, p.AUDIO_RATE, quality="HQ").astype("<i2")
    return pcm.tobytes()


@pytest.mark.usefixtures("auto_plan")
@pytest.mark.parametrize("mode", ["typed", "spoken"])
async def test_auto_language_follows_a_turkish_caller(web_stack: WebStack, mode: str) -> None:
    async with connect(web_stack.ws_url + f"?caller=it-{mode}&to=3000", additional_headers=AUTH) as ws:
        p.SessionInfo.parse(await ws.recv())
        talk = Conversation(ws)
        greeting = await next_reply(talk, web_stack, 0, "the greeting")
        # not heard yet: the default language
        assert greeting.text == with_caller(BUILT_IN["en"]["greeting"], None)
        await wait_until(
            lambda: talk.find(p.StateChange, to_state="LISTENING"), "LISTENING", WAIT_S, web_stack.alive
        )
        if mode == "typed":
            await ws.send(json.dumps({"type": "text", "text": "calisma saatleriniz nedir"}))
        else:
            pcm = turkish_speech("Çalışma saatleriniz nedir?") + bytes(2 * p.AUDIO_RATE)
            for i in range(0, len(pcm), 3200):
                await ws.send(pcm[i : i + 3200])
        answer = await next_reply(talk, web_stack, 1, f"the {mode} answer")
        heard = next(m for m in talk.messages if isinstance(m, p.Transcript))
        print(f"auto/{mode}: heard {heard.text!r}, answered {answer.text!r}")
        assert answer.text == KB["tr-hours"].answer, (heard.text, answer.text)
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)


async def test_a_configured_turkish_greeting_is_said_on_2000(web_stack: WebStack) -> None:
    """A `Prompt` record on the config topic reaches the worker's dialog policy; removed, the built-in
    Turkish greeting speaks again. Last in the module: the record is on the shared broker meanwhile."""
    client = client_options(web_stack.settings)
    record = m.Prompt(
        event_id=uuid.uuid4(), entity_id="it-tr-greeting", occurred_at=datetime.now(UTC), source="test",
        trace_id="it", uri=None, text="Liman Bisiklet'e hoş geldiniz, buyurun.", kind="greeting",
        language="tr-TR", tenant=SAMPLE_TENANT,  # 2000 is the Turkish sample tenant's: its prompts speak
    )  # fmt: skip

    async def greeting() -> str:
        async with connect(web_stack.ws_url + "?caller=it-prompt&to=2000", additional_headers=AUTH) as ws:
            p.SessionInfo.parse(await ws.recv())
            talk = Conversation(ws)
            said = await next_reply(talk, web_stack, 0, "the greeting")
            await ws.send(json.dumps({"type": "hangup"}))
            await asyncio.wait_for(talk.closed.wait(), 10)
            return said.text

    producer = EventProducer(**client)
    await producer.start()
    try:
        await producer.publish_and_wait(record, topic=topics.CONFIG)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60  # the worker's config view follows the topic
        while (said := await greeting()) != record.text:
            assert loop.time() < deadline, said
            await asyncio.sleep(1)
    finally:
        producer.tombstone(topics.CONFIG, record_key(record))
        await producer.flush()
        await producer.stop()
    deadline = asyncio.get_running_loop().time() + 60
    while (said := await greeting()) != with_caller(BUILT_IN["tr"]["greeting"], None):
        assert asyncio.get_running_loop().time() < deadline, said
        await asyncio.sleep(1)
