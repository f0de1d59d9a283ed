"""The early answer through a real streams worker on the real broker (SENTIRIC_EARLY_ANSWER=true).

The test plays the edge (as `test_turn_hold` does) and the STT's partial transcripts (the words so far
of an utterance still being spoken, as `streams.agents.partials` publishes them), so the words are
exact; the worker's STT agent passes the final transcript on from `UtteranceCaptured.text`. It checks
what the worker's agents make of them together: two equal partials start the answer (a caller turn the
dialog records, engine `partial`, answered by the knowledge engine, voiced, played) before the final;
an equal final keeps it (nothing stopped, nothing answered twice); a different final stops the early
answer's audio at the edge and is answered instead. Words that would act (an agent action configured on
the config topic) are answered only once the final confirms them, under the early turn's id; other
final words are answered instead, and the early turn never acts. With a chat model, an answer prepared
at the caller's pause and dropped unheard (the caller spoke on) is not in the model's history.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from schemas import models as m
from schemas.codec import encode
from schemas.playback_ids import family_of
from schemas.turn_ids import EARLY_ENGINE
from sentiric.eventlog.topics import CALLS, CONFIG, config_key
from streams.agents.speech import ENGINE_SOURCE
from streams.dialog.script import CallScript
from tests.integration.e2e.stack import CallLog, Worker, is_
from tests.integration.streams.test_dialog_pipeline import EDGE, PARTITIONS, topics
from tests.support.fake_chat import FakeChatServer

__all__ = ["topics"]  # the fixture, shared with the pipeline test


@dataclass(frozen=True, slots=True)
class PlayedCall:
    """One call's facts as the edge and the STT's partials publish them, sent to the call topic."""

    producer: AIOKafkaProducer
    script: CallScript

    async def send(self, *facts: Any) -> None:
        for fact in facts:
            await self.producer.send_and_wait(CALLS, encode(fact), key=self.script.call_id.encode())

    def partial(self, uid: str, text: str) -> Any:
        """The words so far of an utterance still being spoken."""
        return self.script.fact(m.UtteranceTranscribed, utterance_id=uid, text=text, is_final=False)

    def captured(self, uid: str, text: str) -> Any:
        """The utterance ended; the worker's STT agent passes `text` on as its final transcript."""
        return self.script.fact(
            m.UtteranceCaptured, utterance_id=uid, sample_rate=8000, pcm=b"\x00\x00" * 800, start_ms=0,
            end_ms=100, text=text,
        )  # fmt: skip


async def test_a_stable_partial_is_answered_early_and_the_final_keeps_or_replaces_it(
    topics: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    bootstrap = topics
    worker = Worker(
        bootstrap, tmp_path, machine_cache_dir,
        SENTIRIC_TOPIC_PARTITIONS=str(PARTITIONS), SENTIRIC_EARLY_ANSWER="true",
    )  # fmt: skip
    log = CallLog(bootstrap, EDGE, alive=worker.alive)
    await log.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    script = CallScript("call-early-1", edge=EDGE)
    call = PlayedCall(producer, script)
    send, partial, captured = call.send, call.partial, call.captured

    async def early(after: int) -> m.UtteranceTranscribed:
        turn = await log.wait_for(
            lambda r: (
                is_(m.UtteranceTranscribed, engine=EARLY_ENGINE)(r)
                and not any(x.record is r for x in log.records[:after])
            ),
            "the early turn",
        )
        return turn.record  # type: ignore[no-any-return]

    worker.start()
    try:
        await send(*script.setup(), script.established())
        greeting = (await log.wait_for(is_(m.PlayAudio), "greeting PlayAudio")).record
        await send(*script.played(greeting.playback_id))
        await log.wait_for(is_(m.DialogStateChanged, to_state="LISTENING"), "LISTENING")

        # "Where is your shop" twice while the caller is still in their end silence.
        start = len(log.records)
        await send(script.speech("u1"), partial("u1", "Where is your"))
        await send(partial("u1", "Where is your shop?"), partial("u1", "where is your shop"))
        turn = await early(start)
        assert turn.text == "where is your shop" and turn.source == "dialog"
        answer = (
            await log.wait_for(
                is_(m.AgentReplied, source=ENGINE_SOURCE, utterance_id=turn.utterance_id, final=True),
                "answer",
            )
        ).record
        assert answer.intent == "address"  # one sentence: said whole
        play = await log.wait_for(
            lambda r: isinstance(r, m.PlayAudio) and family_of(r.playback_id) == answer.reply_id, "its audio"
        )
        # Only now the utterance ends: its final transcript says the same words and keeps the answer.
        await send(captured("u1", "Where is your shop?"))
        final = await log.wait_for(is_(m.UtteranceTranscribed, utterance_id="u1", is_final=True), "final")
        await send(*script.played(play.record.playback_id))
        await log.wait_for(
            is_(m.DialogStateChanged, trigger="PlaybackFinished", to_state="LISTENING", turn=1), "LISTENING"
        )
        kept = [r.record for r in log.records[start:]]
        assert not [r for r in kept if isinstance(r, m.StopPlayback)]
        plays = [r for r in kept if isinstance(r, m.PlayAudio)]
        assert {family_of(p.playback_id) for p in plays} == {answer.reply_id}  # the answer to u1: not again
        # the engine, mirroring the early answer, did not answer (or act on) the same words twice
        assert not [r for r in kept if is_(m.AgentReplied, source=ENGINE_SOURCE, utterance_id="u1")(r)]
        assert play.timestamp_ms <= final.timestamp_ms  # the answer played before the final came

        # "What are your opening hours" twice, but the caller ends on other words: the early answer stops.
        start = len(log.records)
        await send(
            script.speech("u2"),
            partial("u2", "What are your opening hours"),
            partial("u2", "What are your opening hours."),
        )
        turn2 = await early(start)
        answer2 = (
            await log.wait_for(
                is_(m.AgentReplied, source=ENGINE_SOURCE, utterance_id=turn2.utterance_id, final=True), "2nd"
            )
        ).record
        await log.wait_for(
            lambda r: isinstance(r, m.PlayAudio) and family_of(r.playback_id) == answer2.reply_id, "its audio"
        )
        await send(captured("u2", "How much does a repair cost?"))
        stop = await log.wait_for(is_(m.StopPlayback), "the early answer stopped")
        assert family_of(stop.record.playback_id) == answer2.reply_id
        replaced = await log.wait_for(
            lambda r: isinstance(r, m.PlayAudio) and family_of(r.playback_id) == "u2:reply", "the real answer"
        )
        reply = next(
            r.record
            for r in log.records
            if is_(m.AgentReplied, source=ENGINE_SOURCE, utterance_id="u2", final=True)(r.record)
        )
        assert reply.intent == "prices" and replaced.timestamp_ms >= stop.timestamp_ms
    finally:
        worker.stop()
        await producer.stop()
        await log.stop()


async def test_words_that_would_act_are_answered_early_only_once_the_final_confirms_them(
    topics: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    bootstrap = topics
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    parameters = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    account = m.Action(
        event_id=uuid.uuid4(), entity_id="it-account", occurred_at=datetime.now(UTC), source="test",
        trace_id="test", name="check_account", description="check the account",
        url="https://accounts.invalid/check", parameters=json.dumps(parameters), secret="it-secret-01234567",
        timeout_s=2.0, retries=0, triggers=("check my account",), confirm_text="Shall I check {name}?",
        done_text="Done.", fallback_text="", language="en-US", enabled=True,
    )  # fmt: skip
    await producer.send_and_wait(CONFIG, encode(account), key=config_key("action", "it-account").encode())
    worker = Worker(
        bootstrap, tmp_path, machine_cache_dir,
        SENTIRIC_TOPIC_PARTITIONS=str(PARTITIONS), SENTIRIC_EARLY_ANSWER="true",
    )  # fmt: skip
    log = CallLog(bootstrap, EDGE, alive=worker.alive)
    await log.start()
    script = CallScript("call-early-acts", edge=EDGE)

    def mine(cls: type[Any], **fields: Any) -> Any:  # the log holds the other test's call too
        return is_(cls, call_id=script.call_id, **fields)

    call = PlayedCall(producer, script)
    send, partial, captured = call.send, call.partial, call.captured

    worker.start()
    try:
        await send(*script.setup(), script.established())
        greeting = (await log.wait_for(mine(m.PlayAudio), "greeting PlayAudio")).record
        await send(*script.played(greeting.playback_id))
        await log.wait_for(mine(m.DialogStateChanged, to_state="LISTENING"), "LISTENING")

        # "Check my account" twice: the dialog takes the early turn, the engine waits for the final.
        await send(script.speech("u1"), partial("u1", "Check my account."), partial("u1", "check my account"))
        turn = (
            await log.wait_for(mine(m.UtteranceTranscribed, engine=EARLY_ENGINE), "the early turn")
        ).record
        # the first test's early answer is on the log within a few hundred ms of its turn: none comes here
        await asyncio.sleep(3.0)
        assert not [r for r in log.records if mine(m.AgentReplied, source=ENGINE_SOURCE)(r.record)]
        await send(captured("u1", "Check my account."))
        final = await log.wait_for(mine(m.UtteranceTranscribed, utterance_id="u1", is_final=True), "final")
        asked = await log.wait_for(
            mine(m.AgentReplied, source=ENGINE_SOURCE, utterance_id=turn.utterance_id, final=True), "answer"
        )
        assert asked.record.engine == "actions" and asked.timestamp_ms >= final.timestamp_ms
        assert not [
            r for r in log.records if mine(m.AgentReplied, source=ENGINE_SOURCE, utterance_id="u1")(r.record)
        ]
        play = await log.wait_for(
            lambda r: mine(m.PlayAudio)(r) and family_of(r.playback_id) == asked.record.reply_id,
            "its audio",
        )
        await send(*script.played(play.record.playback_id))
        await log.wait_for(
            mine(m.DialogStateChanged, trigger="PlaybackFinished", to_state="LISTENING", turn=1), "LISTENING"
        )

        # The action now waits for a name: any early turn would move it (even words the knowledge base
        # answers), so it waits for the final too; here the final has other words and is answered instead.
        start = len(log.records)
        await send(
            script.speech("u2"),
            partial("u2", "What are your opening hours"),
            partial("u2", "what are your opening hours"),
        )
        turn2 = (
            await log.wait_for(
                lambda r: (
                    mine(m.UtteranceTranscribed, engine=EARLY_ENGINE)(r)
                    and r.utterance_id != turn.utterance_id
                ),
                "2nd early turn",
            )
        ).record
        await send(captured("u2", "What are your opening hours, Alice?"))
        reply = await log.wait_for(
            mine(m.AgentReplied, source=ENGINE_SOURCE, utterance_id="u2", final=True), "the final's answer"
        )
        assert reply.record.engine == "actions"  # the action conversation took the name
        later = [r.record for r in log.records[start:]]
        assert not [r for r in later if mine(m.AgentReplied, utterance_id=turn2.utterance_id)(r)]
        assert not [r for r in later if mine(m.ActionRequested)(r)]  # it asks to confirm: nothing ran
    finally:
        worker.stop()
        await producer.stop()
        await log.stop()


async def test_an_answer_dropped_at_the_callers_pause_is_not_in_the_models_history(
    topics: str, tmp_path: Path, machine_cache_dir: Path
) -> None:
    """The default pause answer with a chat model: the caller pauses after "What are your opening
    hours?", the model answers those words early, the caller speaks on (the edge drops the held answer
    unheard: `caller_resumed`), and the final words are answered. The model's second request must not
    carry the first exchange: the caller never heard that answer."""
    bootstrap = topics
    chat = FakeChatServer([[{"content": "We are open nine to five."}]])
    worker = Worker(
        bootstrap, tmp_path, machine_cache_dir, SENTIRIC_TOPIC_PARTITIONS=str(PARTITIONS),
        SENTIRIC_DIALOG_ENGINE="openai", SENTIRIC_LLM_URL=chat.url, SENTIRIC_LLM_MODEL="fake",
    )  # fmt: skip
    log = CallLog(bootstrap, EDGE, alive=worker.alive)
    await log.start()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    # a tenant of its own: the module's other test configures an action for the default tenant, which
    # would make this chat model a tool-calling one whose early turns wait for the final (`acts`)
    script = CallScript("call-early-dropped", edge=EDGE, tenant="it-chat")

    def mine(cls: type[Any], **fields: Any) -> Any:  # the log holds the other tests' calls too
        return is_(cls, call_id=script.call_id, **fields)

    call = PlayedCall(producer, script)
    worker.start()
    try:
        await call.send(*script.setup(), script.established())
        greeting = (await log.wait_for(mine(m.PlayAudio), "greeting PlayAudio")).record
        await call.send(*script.played(greeting.playback_id))
        await log.wait_for(mine(m.DialogStateChanged, to_state="LISTENING"), "LISTENING")

        paused = script.fact(
            m.UtteranceTranscribed, utterance_id="u1", text="What are your opening hours?", is_final=False,
            pause=True,
        )  # fmt: skip
        await call.send(script.speech("u1"), paused)
        turn = (
            await log.wait_for(mine(m.UtteranceTranscribed, engine=EARLY_ENGINE), "the early turn")
        ).record
        early = (
            await log.wait_for(
                mine(m.AgentReplied, source=ENGINE_SOURCE, utterance_id=turn.utterance_id, final=True),
                "the early answer",
            )
        ).record
        play = (
            await log.wait_for(
                lambda r: mine(m.PlayAudio)(r) and family_of(r.playback_id) == early.reply_id, "its audio"
            )
        ).record
        assert play.after_utterance == "u1" and len(chat.requests) == 1
        # The caller speaks on: the edge drops the held answer unheard, and the utterance ends later.
        dropped = script.fact(
            m.PlaybackFinished, playback_id=play.playback_id, interrupted=True, played_ms=0, duration_ms=0,
            reason="caller_resumed",
        )  # fmt: skip
        await call.send(dropped)
        await call.send(call.captured("u1", "What are your opening hours on Sunday?"))
        await log.wait_for(
            mine(m.AgentReplied, source=ENGINE_SOURCE, utterance_id="u1", final=True), "the final's answer"
        )
        assert len(chat.requests) == 2
        said = [(msg["role"], msg["content"]) for msg in chat.requests[1].body["messages"]]
        assert ("user", "What are your opening hours on Sunday?") in said
        assert not [s for s in said if "opening hours?" in s[1] or s[1] == "We are open nine to five."], said
    finally:
        worker.stop()
        chat.stop()
        await producer.stop()
        await log.stop()
