"""Streamed replies: sentences handed out while the engine writes (speech.reply_streamed), voiced piece
by piece (speech.synthesize), published from the loop while a real HTTP model streams (streaming)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from schemas import models as m
from sentiric.settings import Settings
from streams.agents import speech
from streams.agents.streaming import reply_streaming
from streams.dialog.script import CallScript
from streams.engines.dialog import Reply, StreamingDialogEngine, Turn
from streams.engines.errors import EngineError
from streams.engines.factory import build_dialog
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.engines.openai_chat import OpenAIChatEngine
from streams.engines.tts import Speech
from tests.support.fake_chat import FakeChatServer

ANSWER = ["We are ", "open from ", "9.30 to six ", "on weekdays. ", "Dr. Smith ", "sees patients ",
          "on Mondays. ", "Call us ", "any time!"]  # fmt: skip


class ScriptedEngine:
    """Hands out scripted pieces, then fails if told to."""

    name = "scripted"

    def __init__(self, pieces: list[str], fail: bool = False) -> None:
        self.pieces = pieces
        self.fail = fail

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[m.KnowledgeEntry]) -> Reply:
        return Reply("".join(self.pieces))

    def reply_streaming(
        self,
        text: str,
        history: Sequence[Turn],
        knowledge: Sequence[m.KnowledgeEntry],
        on_text: Callable[[str], None],
    ) -> Reply:
        for piece in self.pieces:
            on_text(piece)
        if self.fail:
            raise EngineError("connection reset")
        return Reply(
            "".join(self.pieces).replace("[END]", "").strip(), "llm", "[END]" in "".join(self.pieces)
        )


class LengthTTS:
    name = "length-tts"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def synthesize(self, text: str, language: str) -> Speech:
        self.texts.append(text)
        return Speech(np.ones(len(text) * 10, dtype="<i2").tobytes(), speech.TTS_RATE)


def heard() -> m.UtteranceTranscribed:
    return CallScript().transcribed("u1", "when are you open")


def test_engine_is_a_streaming_engine() -> None:
    assert isinstance(ScriptedEngine([]), StreamingDialogEngine)
    assert isinstance(OpenAIChatEngine("http://127.0.0.1:9", "m"), StreamingDialogEngine)


def test_sentences_are_handed_out_as_they_are_finished_and_the_final_fact_is_the_turn() -> None:
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(heard(), ScriptedEngine(ANSWER), [], [], pieces.append)
    assert [(p.text, p.part, p.final) for p in pieces] == [
        ("We are open from 9.30 to six on weekdays.", 0, False),
        ("Dr. Smith sees patients on Mondays.", 1, False),
    ]
    assert final.final and final.part == 2 and final.rest == "Call us any time!"
    assert final.text == "".join(ANSWER) and final.intent == "llm"
    assert {p.reply_id for p in [*pieces, final]} == {"u1:reply"}
    assert len({p.event_id for p in [*pieces, final]}) == 3
    again: list[m.AgentReplied] = []
    repeated = speech.reply_streamed(heard(), ScriptedEngine(ANSWER), [], [], again.append)
    assert repeated.event_id == final.event_id and again == pieces  # a redelivered transcript: the same facts


def test_a_one_sentence_reply_is_not_streamed() -> None:
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(heard(), ScriptedEngine(["We open ", "at nine."]), [], [], pieces.append)
    assert pieces == [] and final.part == 0 and final.rest is None and final.text == "We open at nine."


def test_the_end_marker_is_never_said() -> None:
    pieces: list[m.AgentReplied] = []
    engine = ScriptedEngine(["Thank you for calling us today. ", "Goodbye! ", "[END]"])
    final = speech.reply_streamed(heard(), engine, [], [], pieces.append)
    assert [p.text for p in pieces] == ["Thank you for calling us today."]
    assert final.end_conversation and final.rest == "Goodbye!" and "[END]" not in final.text


def test_an_engine_failing_mid_reply_ends_the_reply_with_what_was_said() -> None:
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(heard(), ScriptedEngine(ANSWER[:6], fail=True), [], [], pieces.append)
    assert len(pieces) == 1 and final.part == 1 and final.rest == ""
    assert final.text == "We are open from 9.30 to six on weekdays."  # what the caller heard
    with pytest.raises(EngineError):
        speech.reply_streamed(heard(), ScriptedEngine(["We are"], fail=True), [], [], pieces.append)


def test_pieces_are_voiced_one_by_one_and_the_final_fact_voices_only_the_rest() -> None:
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(heard(), ScriptedEngine(ANSWER), [], [], pieces.append)
    tts = LengthTTS()
    audio = [speech.synthesize(f, tts, "en-US") for f in [*pieces, final]]
    assert tts.texts == [p.text for p in pieces] + ["Call us any time!"]
    assert [(a.part, a.last, a.reply_id) for a in audio] == [(0, False, "u1:reply"), (1, False, "u1:reply"),
                                                              (2, True, "u1:reply")]  # fmt: skip
    whole = speech.synthesize(speech.reply(heard(), ScriptedEngine(ANSWER), [], []), tts, "en-US")
    assert (whole.part, whole.last, whole.text) == (0, True, "".join(ANSWER).strip())
    end = speech.synthesize(dataclasses.replace(final, rest=""), tts, "en-US")  # the pieces said it all
    assert (end.pcm, end.last, end.part) == (b"", True, 2)


async def test_pieces_are_published_while_a_real_model_streams() -> None:
    server = FakeChatServer(delay_s=0.03)
    server.say(*ANSWER)
    engine = OpenAIChatEngine(server.url, "m")
    published: list[tuple[int, m.AgentReplied]] = []

    async def publish(piece: m.AgentReplied) -> None:
        published.append((server.chunks_sent, piece))  # how far the model had got

    try:
        final = await reply_streaming(heard(), engine, [], [], publish)
    finally:
        engine.close()
        server.stop()
    assert [p.part for _, p in published] == [0, 1]
    assert final.part == 2 and final.rest == "Call us any time!"
    # The first sentence was out while the model was still writing the second (30 ms a piece).
    assert published[0][0] < len(ANSWER) - 2


async def test_a_model_that_fails_before_any_sentence_raises() -> None:
    server = FakeChatServer(status=500)
    engine = OpenAIChatEngine(server.url, "m")

    async def publish(piece: m.AgentReplied) -> None:
        raise AssertionError("nothing to publish")

    try:
        with pytest.raises(EngineError):
            await reply_streaming(heard(), engine, [], [], publish)
    finally:
        engine.close()
        server.stop()
    await asyncio.sleep(0)


def test_the_knowledge_engines_multi_sentence_answer_is_voiced_sentence_by_sentence() -> None:
    """The embedded engine streams too (with `stream_replies`): its first sentence is a piece of its
    own, so the caller hears it while TTS voices the rest."""
    engine = KnowledgeEngine()
    assert isinstance(engine, StreamingDialogEngine)
    hours = next(e for e in load_knowledge() if e.entity_id == "hours")
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(
        CallScript().transcribed("u1", "what are your opening hours"),
        engine,
        [],
        load_knowledge(),
        pieces.append,
    )
    assert [(p.text, p.part, p.final, p.engine) for p in pieces] == [
        (hours.answer.split(". ")[0] + ".", 0, False, "knowledge-base")
    ]
    assert final.final and final.part == 1 and final.rest == "We are closed on Sundays."
    assert (final.text, final.intent) == (hours.answer, "hours")
    tts = LengthTTS()
    speech.synthesize(pieces[0], tts, "en-US")
    speech.synthesize(final, tts, "en-US")
    assert len(tts.texts) == 2 and tts.texts[1].startswith("We are closed")  # each piece voiced once


@pytest.mark.parametrize(("question", "intent"), [("goodbye", "goodbye"), ("talk to a person", "handoff")])
def test_a_knowledge_goodbye_or_handoff_is_said_whole(question: str, intent: str) -> None:
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(
        CallScript().transcribed("u1", question), KnowledgeEngine(), [], load_knowledge(), pieces.append
    )
    assert pieces == [] and final.intent == intent and final.part == 0 and final.rest is None


def test_the_knowledge_engine_streams_only_when_configured(tmp_path: Path) -> None:
    """`stream_knowledge_replies` (off by default): the engine the worker builds says answers whole."""
    whole = build_dialog(Settings(home=tmp_path))
    assert isinstance(whole, KnowledgeEngine) and not whole.stream
    pieces: list[m.AgentReplied] = []
    final = speech.reply_streamed(
        CallScript().transcribed("u1", "what are your opening hours"),
        whole,
        [],
        load_knowledge(),
        pieces.append,
    )
    assert pieces == [] and final.part == 0 and final.intent == "hours"
    streaming = build_dialog(Settings(home=tmp_path, stream_knowledge_replies=True))
    assert isinstance(streaming, KnowledgeEngine) and streaming.stream
