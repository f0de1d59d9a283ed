"""A caller who pauses mid-sentence, through a real streams worker on the real broker.

The test plays the edge (as `test_dialog_pipeline` does) with transcripts the edge already has
(`UtteranceCaptured.text`, which the STT agent passes on as they are), so the words are exact. It
checks what the worker's agents make of them together: the dialog holds an unfinished transcript,
the dialog engine does not answer it, the joined sentence is answered once; and when nothing more
comes, the worker's timer fires the hold and the words said are answered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas import models as m
from schemas.codec import encode
from sentiric.eventlog.topics import CALLS
from streams.agents.speech import ENGINE_SOURCE
from streams.dialog.machine import TURN_ENGINE
from streams.dialog.script import CallScript
from tests.integration.e2e.stack import CallLog, Worker, is_
from tests.integration.streams.test_dialog_pipeline import EDGE, PARTITIONS, topics

__all__ = ["topics"]  # the fixture, shared with the pipeline test
HOLD_S = 0.8


async def test_unfinished_words_are_held_joined_or_answered_when_the_hold_runs_out(
    topics: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    bootstrap = topics
    worker = Worker(
        bootstrap, tmp_path, machine_cache_dir,
        SENTIRIC_TOPIC_PARTITIONS=str(PARTITIONS), SENTIRIC_TURN_HOLD_S=str(HOLD_S),
    )  # fmt: skip
    log = CallLog(bootstrap, EDGE, alive=worker.alive)
    await log.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    script = CallScript("call-turn-1", edge=EDGE)
    key = script.call_id.encode()

    async def edge(*facts: Any) -> None:
        for fact in facts:
            await producer.send_and_wait(CALLS, encode(fact), key=key)

    async def say(uid: str, text: str) -> None:
        captured = script.fact(
            m.UtteranceCaptured, utterance_id=uid, sample_rate=8000, pcm=b"\x00\x00" * 800, start_ms=0,
            end_ms=100, text=text,
        )  # fmt: skip
        await edge(script.speech(uid), captured)

    async def played(playback_id: str) -> None:
        await edge(*script.played(playback_id))
        await log.wait_for(is_(m.DialogStateChanged, trigger="PlaybackFinished", to_state="LISTENING",
                               turn=len(answered())), "LISTENING")  # fmt: skip

    def answered() -> list[Any]:
        return [r.record for r in log.records if is_(m.AgentReplied, source=ENGINE_SOURCE)(r.record)]

    worker.start()
    try:
        await edge(*script.setup(), script.established())
        greeting = (await log.wait_for(is_(m.PlayAudio), "greeting PlayAudio")).record
        await played(greeting.playback_id)

        # "My order number is" … "four five six.": one turn, answered once.
        await say("u1", "My order number is")
        await log.wait_for(is_(m.UtteranceTranscribed, utterance_id="u1"), "the first part's transcript")
        await say("u2", "four five six.")
        joined = (
            await log.wait_for(is_(m.UtteranceTranscribed, engine=TURN_ENGINE), "the joined turn")
        ).record
        assert joined.text == "My order number is four five six." and joined.source == "dialog"
        answer = (await log.wait_for(is_(m.AgentReplied, source=ENGINE_SOURCE), "the answer")).record
        assert answer.utterance_id == joined.utterance_id
        await log.wait_for(is_(m.PlayAudio, playback_id=answer.reply_id), "the answer's PlayAudio")
        await played(answer.reply_id)

        # "I would like to" and nothing more: the hold runs out on the worker's timer.
        await say("u3", "I would like to")
        part = await log.wait_for(is_(m.UtteranceTranscribed, utterance_id="u3"), "the third transcript")
        fired = await log.wait_for(is_(m.DialogTimerFired, timer="turn_hold"), "the hold timer")
        alone = await log.wait_for(
            lambda r: (
                is_(m.UtteranceTranscribed, engine=TURN_ENGINE)(r) and r.utterance_id != joined.utterance_id
            ),
            "the held words as a turn",
        )
        assert alone.record.text == "I would like to"
        # Kafka's CreateTime: the timer fired (and the turn was taken) not before the hold ran out.
        assert fired.timestamp_ms - part.timestamp_ms >= HOLD_S * 1000
        assert alone.timestamp_ms >= fired.timestamp_ms
        second = await log.wait_for(
            lambda r: is_(m.AgentReplied, source=ENGINE_SOURCE)(r) and r.utterance_id != joined.utterance_id,
            "the second answer",
        )
        assert second.record.utterance_id == alone.record.utterance_id

        # The engine answered the two caller turns, never a part of one.
        assert [a.utterance_id for a in answered()] == [joined.utterance_id, alone.record.utterance_id]
    finally:
        worker.stop()
        await producer.stop()
        await log.stop()
