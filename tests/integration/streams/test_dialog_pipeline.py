"""A whole call through a real streams worker on the real broker, including a kill -9 mid-call.

The test plays the edge: it produces the edge's facts for one call onto `sentiric.calls` and reads
the call topic and the edge's command topic. The worker runs as a subprocess (`python -m
streams.app`) with the embedded engines: Whisper base STT, the knowledge-base dialog engine, hibari TTS.
"""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from schemas import models as m
from schemas.codec import decode, encode
from sentiric.eventlog.topics import CALLS, CONFIG, METRICS, commands_topic
from streams.dialog.script import CallScript
from streams.engines.knowledge import load_knowledge
from tests.integration.e2e.stack import Worker

ROOT = Path(__file__).parents[3]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
PARTITIONS = 2
EDGE = "edge-7"
WAIT_S = 90.0


class Log:
    """Everything on the call and command topics, decoded, as it arrives."""

    def __init__(self, alive: Callable[[], bool]) -> None:
        self.records: list[Any] = []
        self._changed = asyncio.Event()
        self._alive = alive

    def add(self, record: Any) -> None:
        self.records.append(record)
        self._changed.set()

    async def wait_for(self, predicate: Callable[[Any], bool], what: str) -> Any:
        async def scan() -> Any:
            seen = 0
            while True:
                for r in self.records[seen:]:
                    if predicate(r):
                        return r
                seen = len(self.records)
                self._changed.clear()
                try:
                    await asyncio.wait_for(self._changed.wait(), 1.0)
                except TimeoutError:
                    if not self._alive():
                        raise AssertionError(f"the worker died waiting for {what}") from None

        try:
            return await asyncio.wait_for(scan(), WAIT_S)
        except TimeoutError:
            kinds = [f"{type(r).__name__}/{r.source}" for r in self.records]
            raise AssertionError(f"no {what} in {len(kinds)} records: {kinds}") from None


@pytest.fixture
async def topics(fresh_kafka: str) -> AsyncIterator[str]:
    kafka = fresh_kafka
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(CALLS, PARTITIONS, 1),
                NewTopic(commands_topic(EDGE), PARTITIONS, 1),
                NewTopic(METRICS, 1, 1),
                NewTopic(CONFIG, 1, 1, topic_configs={"cleanup.policy": "compact"}),
            ]
        )
        yield kafka
    finally:
        await admin.close()


async def _follow(bootstrap: str, log: Log) -> None:
    consumer = AIOKafkaConsumer(
        CALLS, commands_topic(EDGE), bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async for msg in consumer:
            assert msg.value is not None
            log.add(decode(msg.value))
    finally:
        await consumer.stop()


def _wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(SPEECH / name)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


async def test_call_through_a_worker_that_is_killed_mid_call(
    topics: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    bootstrap = topics
    worker = Worker(bootstrap, tmp_path, machine_cache_dir, SENTIRIC_TOPIC_PARTITIONS=str(PARTITIONS))
    log = Log(lambda: worker.proc is None or worker.alive())
    follower = asyncio.create_task(_follow(bootstrap, log))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    script = CallScript("call-it-1", edge=EDGE)
    key = script.call_id.encode()

    async def edge(*facts: Any) -> None:
        for fact in facts:
            await producer.send_and_wait(CALLS, encode(fact), key=key)

    def is_(cls: type[Any], **fields: Any) -> Callable[[Any], bool]:
        return lambda r: isinstance(r, cls) and all(getattr(r, k) == v for k, v in fields.items())

    worker.start()
    try:
        await edge(*script.setup(), script.established())
        greeting = await log.wait_for(is_(m.PlayAudio), "greeting PlayAudio")
        assert greeting.text and greeting.pcm and greeting.source == "dialog"
        await edge(*script.played(greeting.playback_id))
        await log.wait_for(is_(m.DialogStateChanged, to_state="LISTENING"), "LISTENING")

        pcm, rate = _wav("opening_hours_16k.wav")
        await edge(
            script.speech("u1"),
            script.fact(
                m.UtteranceCaptured, utterance_id="u1", sample_rate=rate, pcm=pcm, start_ms=0, end_ms=1860
            ),
        )
        heard = await log.wait_for(is_(m.UtteranceTranscribed, utterance_id="u1"), "transcript")
        assert {"opening", "hours"} <= set(heard.text.lower().replace("?", "").split())
        assert heard.engine == "faster-whisper-base" and heard.latency_ms > 0
        answer = await log.wait_for(is_(m.AgentReplied, utterance_id="u1"), "reply")
        hours = next(e for e in load_knowledge() if e.entity_id == "hours")
        assert (answer.text, answer.intent, answer.engine) == (hours.answer, "hours", "knowledge-base")
        voiced = await log.wait_for(is_(m.SpeechSynthesized, reply_id=answer.reply_id), "synthesized reply")
        samples = np.frombuffer(voiced.pcm, dtype="<i2").astype(np.float64)
        assert voiced.sample_rate == 16000 and len(samples) > voiced.sample_rate
        assert np.sqrt(np.mean(samples**2)) > 300
        play = await log.wait_for(is_(m.PlayAudio, playback_id=answer.reply_id), "reply PlayAudio")
        assert play.pcm == voiced.pcm
        await log.wait_for(is_(m.DialogStateChanged, to_state="SPEAKING"), "SPEAKING")

        # kill -9 while the reply plays; a new worker must pick the call up from the table's changelog.
        worker.kill()
        worker.start()
        await edge(*script.played(answer.reply_id))
        back = await log.wait_for(
            is_(m.DialogStateChanged, from_state="SPEAKING", to_state="LISTENING"), "resume"
        )
        assert back.turn == 1

        await edge(script.dtmf("0"))
        bye = await log.wait_for(lambda r: isinstance(r, m.PlayAudio) and not r.barge_in, "goodbye PlayAudio")
        await edge(*script.played(bye.playback_id))
        hangup = await log.wait_for(is_(m.Hangup), "Hangup")
        assert hangup.reason == "dialog_complete"
        await edge(script.ended(hangup_by="agent"))
        await log.wait_for(is_(m.DialogStateChanged, to_state="ENDED"), "ENDED")

        # Redelivery after the kill must not have doubled any command: one event id per playback.
        plays: dict[str, set[Any]] = {}
        for r in log.records:
            if isinstance(r, m.PlayAudio):
                plays.setdefault(r.playback_id, set()).add(r.event_id)
        assert all(len(ids) == 1 for ids in plays.values()), plays
    finally:
        worker.stop()
        await producer.stop()
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
