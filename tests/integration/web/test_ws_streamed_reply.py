"""A streamed LLM reply over /ws on the real stack: its own Kafka, a streams worker whose dialog engine
is an OpenAI-compatible model (the fake server of tests/support, writing one token every 80 ms), and
the gateway. The first sentence's audio reaches the browser while the model is still writing; a new
caller turn (typed, or spoken over the agent: barge-in) during a streamed reply stops every piece of it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from edge.facts import FactRecorder
from edge.ws import protocol as p
from edge.ws.server import WebService
from sentiric.broker.local_kafka import LocalKafka
from sentiric.eventlog import topics
from sentiric.eventlog.admin import ensure_topics
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.producer import EventProducer
from sentiric.settings import Settings
from tests.integration.web.conftest import ADMIN_TOKEN, AUTH, ROOT, wait_until
from tests.integration.web.test_ws_gateway import Conversation, question_pcm
from tests.support.fake_chat import FakeChatServer

NODE = "edge-stream-it"
WAIT_S = 180.0
TOKEN_DELAY_S = 0.08
ANSWER = (
    "We are open from nine thirty in the morning on weekdays. "
    "On Saturdays we open at ten and close at two in the afternoon. "
    "On Sundays and public holidays the shop stays closed all day."
)
TOKENS = [word + " " for word in ANSWER.split()]  # 33 tokens: 2.6 s of writing


class Stack:
    def __init__(self, service: WebService, worker: subprocess.Popen[bytes], chat: FakeChatServer) -> None:
        self.service, self.worker, self.chat = service, worker, chat

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.service.port}/ws"

    def alive(self) -> bool:
        return self.worker.poll() is None


@pytest.fixture
async def stack(
    make_settings: Callable[[str], Settings], tmp_path: Path, machine_cache_dir: Path
) -> AsyncIterator[Stack]:
    broker = LocalKafka(make_settings("stream-reply-kafka"))
    broker.start(detach=False)
    chat = FakeChatServer(delay_s=TOKEN_DELAY_S)
    chat.say(*TOKENS)
    settings = Settings(
        kafka_bootstrap=broker.bootstrap, home=tmp_path, cache_home=machine_cache_dir, node_id=NODE,
        admin_token=ADMIN_TOKEN,
    )  # fmt: skip
    client = client_options(settings)
    await ensure_topics(
        topics.platform_topics(
            partitions=1, calls_retention_ms=settings.calls_retention_ms, node_ids=(NODE,)
        ),
        **client,
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")},
        "SENTIRIC_KAFKA_BOOTSTRAP": broker.bootstrap,
        "SENTIRIC_HOME": str(tmp_path),
        "SENTIRIC_CACHE_HOME": str(machine_cache_dir),
        "SENTIRIC_TOPIC_PARTITIONS": "1",
        "SENTIRIC_STREAMS_OFFSET_RESET": "earliest",
        "SENTIRIC_NO_INPUT_TIMEOUT_S": "300",
        "SENTIRIC_DIALOG_ENGINE": "openai",
        "SENTIRIC_LLM_URL": chat.url,
        "SENTIRIC_LLM_MODEL": "fake",
    }
    with (tmp_path / "worker.log").open("ab") as out:
        worker = subprocess.Popen(  # noqa: ASYNC220 - starting a process does not block; it is not awaited
            [sys.executable, "-m", "sentiric.cli", "worker"], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    producer = EventProducer(**client)
    await producer.start()
    service = WebService(settings, FactRecorder(producer, NODE), own_commands=True, port=0)
    await service.start()
    try:
        yield Stack(service, worker, chat)
    finally:
        await service.stop()
        await producer.stop()
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        chat.stop()
        broker.stop()


class Watched(Conversation):
    """A Conversation that notes how far the model had written when each playback's audio began."""

    def __init__(self, ws: Any, chat: FakeChatServer) -> None:
        self.chat = chat
        self.first_audio_at_chunk: dict[str, int] = {}
        super().__init__(ws)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    key = self.playing or "?"
                    self.first_audio_at_chunk.setdefault(key, self.chat.chunks_sent)
                    self.audio.setdefault(key, bytearray()).extend(frame)
                    continue
                message = p.parse_server(frame)
                if isinstance(message, p.PlaybackEvent):
                    self.playing = message.playback_id if message.event == "started" else None
                self.messages.append(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()


def replies(talk: Conversation) -> list[p.Reply]:
    return [m for m in talk.messages if isinstance(m, p.Reply)]


def playbacks(talk: Conversation, family: str, event: str) -> list[p.PlaybackEvent]:
    """The `event`s of the pieces of reply `family` (every streamed reply's, for family "")."""
    return [
        m for m in talk.messages
        if isinstance(m, p.PlaybackEvent) and m.event == event and "#" in m.playback_id
        and family in ("", m.playback_id.rsplit("#", 1)[0])
    ]  # fmt: skip


def new_reply(talk: Conversation, *known: str) -> str | None:
    """The reply id of the first streamed reply whose pieces started playing, other than `known`."""
    for e in playbacks(talk, "", "started"):
        family = e.playback_id.rsplit("#", 1)[0]
        if family not in known:
            return family
    return None


async def test_streamed_reply_is_heard_before_the_model_finishes_and_barge_in_stops_it(stack: Stack) -> None:
    async with connect(stack.ws_url + "?caller=it-stream&to=help", additional_headers=AUTH) as ws:
        p.SessionInfo.parse(await ws.recv())
        talk = Watched(ws, stack.chat)

        def wait(what: str, predicate: Callable[[], Any]) -> Any:
            return wait_until(predicate, what, WAIT_S, stack.alive)

        greeting = await wait("the greeting", lambda: talk.find(p.Reply))
        await wait("the greeting played", lambda: talk.find(p.PlaybackEvent, playback_id=greeting.reply_id,
                                                            event="finished"))  # fmt: skip

        # 1. A typed question: the answer is spoken sentence by sentence while the model writes.
        before = stack.chat.chunks_sent
        await ws.send(json.dumps({"type": "text", "text": "when are you open"}))
        family = await wait("the first sentence's audio", lambda: new_reply(talk))
        await wait("the whole reply", lambda: next((r for r in replies(talk) if r.reply_id == family), None))
        await wait("the reply played", lambda: len(playbacks(talk, family, "finished")) == 3)
        heard_at = talk.first_audio_at_chunk[f"{family}#0"] - before
        assert 0 < heard_at < len(TOKENS), (heard_at, len(TOKENS))  # audio while the model still wrote
        whole = next(r for r in replies(talk) if r.reply_id == family)
        assert whole.text == ANSWER.strip()  # the subtitles: one reply, whole
        assert [e.playback_id for e in playbacks(talk, family, "finished")] == [
            f"{family}#{i}" for i in range(3)
        ]
        assert all(len(talk.audio[f"{family}#{i}"]) > 16000 for i in range(3))  # each piece is speech

        # 2. Another question, and the caller speaks again during its first sentence: every piece stops.
        await ws.send(json.dumps({"type": "text", "text": "What about Sundays?"}))
        family2 = await wait("the second reply's first sentence", lambda: new_reply(talk, family))
        await ws.send(json.dumps({"type": "text", "text": "Thank you, that is all."}))
        stopped = await wait("the reply stopped", lambda: playbacks(talk, family2, "stopped"))
        assert stopped[0].playback_id == f"{family2}#0"
        # The model goes on writing the interrupted reply; none of the rest of it is played.
        await wait("the third reply", lambda: new_reply(talk, family, family2))
        assert [e.playback_id for e in playbacks(talk, family2, "started")] == [f"{family2}#0"]

        # 3. The caller talks over the third reply (audio, the edge's VAD): every piece of it stops.
        family3 = new_reply(talk, family, family2)
        assert family3 is not None
        speech = question_pcm() + bytes(2 * 16000)
        for i in range(0, len(speech), 3200):  # 100 ms frames, in real time
            await ws.send(speech[i : i + 3200])
            await asyncio.sleep(0.1)
        barged = await wait("the barge-in", lambda: playbacks(talk, family3, "stopped"))
        assert barged[0].playback_id == f"{family3}#0" and talk.find(p.SpeechDetected) is not None
        await wait("the answer to the spoken question", lambda: new_reply(talk, family, family2, family3))
        assert [e.playback_id for e in playbacks(talk, family3, "started")] == [f"{family3}#0"]
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)
