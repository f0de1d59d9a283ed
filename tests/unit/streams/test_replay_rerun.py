"""Re-running a recorded call's turns with engines given (fake STT at the seam, the real knowledge
engine), as the live dialog-engine agent would answer them."""

import dataclasses
import json

from schemas import models as m
from schemas.envelope import envelope
from schemas.turn_ids import EARLY_ENGINE, early_utterance_id
from streams.dialog.script import CallScript
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.engines.stt import Transcript
from streams.replay_diff import compare
from streams.replay_rerun import recorded_turns, recording, rerun_turns

KNOWLEDGE = load_knowledge()
HOURS = next(e for e in KNOWLEDGE if e.entity_id == "hours")


class ScriptedSTT:
    """Hears the text the PCM was made from (the tests put it there as UTF-8)."""

    name = "scripted"

    def __init__(self, override: dict[str, str] | None = None) -> None:
        self.override = override or {}

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        text = pcm.decode()
        return Transcript(self.override.get(text, text), language)


def a_call(questions: list[str]) -> list:
    """A call as the platform records it: each question captured, transcribed and answered."""
    s = CallScript("call-r")
    engine = KnowledgeEngine()
    facts = [*s.setup(), s.established()]
    facts.append(s.fact(m.AgentReplied, source="dialog", reply_id="greeting", text="Hello!", engine="prompt"))
    for i, q in enumerate(questions):
        uid = f"u{i}"
        facts.append(s.fact(m.UtteranceCaptured, utterance_id=uid, pcm=q.encode()))
        facts.append(s.transcribed(uid, q))
        answer = engine.reply(q, [], KNOWLEDGE)
        facts.append(dataclasses.replace(
            s.replied(uid, answer.text, intent=answer.intent or "", end=answer.end_conversation),
            engine="knowledge-base", intent=answer.intent,
        ))  # fmt: skip
    facts.append(s.ended())
    return facts


async def test_the_same_engines_reproduce_every_turn():
    rec = recording("call-r", a_call(["what are your opening hours", "where are you located"]))
    made = await rerun_turns(rec, ScriptedSTT(), KnowledgeEngine(), KNOWLEDGE)
    recorded = recorded_turns(rec)
    assert [t.intent for t in recorded] == ["hours", "address"]
    assert [t.stt_engine for t in made] == ["scripted", "scripted"]
    diff = compare("call-r", recorded, made)
    assert len(diff.turns) == 2 and not diff.changed


async def test_recorded_transcripts_kept_without_stt():
    rec = recording("call-r", a_call(["what are your opening hours"]))
    (t,) = await rerun_turns(rec, None, KnowledgeEngine(), KNOWLEDGE)
    assert (t.transcript, t.intent, t.stt_engine) == ("what are your opening hours", "hours", "whisper")


async def test_a_changed_knowledge_entry_changes_exactly_its_reply():
    rec = recording("call-r", a_call(["what are your opening hours", "where are you located"]))
    changed = [
        dataclasses.replace(e, answer="We are open every day.") if e is HOURS else e for e in KNOWLEDGE
    ]
    diff = compare("call-r", recorded_turns(rec), await rerun_turns(rec, None, KnowledgeEngine(), changed))
    (turn,) = diff.changed
    assert turn.utterance_id == "u0" and turn.reply_changed and not turn.decision_changed
    assert turn.rerun is not None and turn.rerun.reply == "We are open every day."


async def test_another_transcript_is_scored_and_answered_anew():
    rec = recording("call-r", a_call(["what are your opening hours"]))
    stt = ScriptedSTT({"what are your opening hours": "what are you opening ours"})
    (turn,) = compare(
        "call-r", recorded_turns(rec), await rerun_turns(rec, stt, KnowledgeEngine(), KNOWLEDGE)
    ).turns
    assert turn.transcript_changed and turn.wer == 0.4


def an_early_answered_call(question: str, *, spoke_on: str | None = None) -> list:
    """A call whose question was answered at the caller's pause (`schemas.turn_ids`): the pause
    partial, the dialog's early turn and its reply, then the utterance's capture and final. With
    `spoke_on`, the caller said more after the pause: the early answer was dropped, the final answered."""
    s = CallScript("call-r")
    engine = KnowledgeEngine()
    early = early_utterance_id("u0", 7)
    heard = f"{question} {spoke_on}" if spoke_on else question
    answer = engine.reply(question, [], KNOWLEDGE)
    facts = [*s.setup(), s.established()]
    facts.append(s.fact(m.UtteranceTranscribed, utterance_id="u0", text=question, is_final=False, pause=True))
    facts.append(s.fact(m.UtteranceTranscribed, source="dialog", utterance_id=early, text=question,
                        engine=EARLY_ENGINE))  # fmt: skip
    said = answer.text if not spoke_on else "An answer the caller never heard."
    facts.append(dataclasses.replace(
        s.replied(early, said, intent=answer.intent or ""), engine="knowledge-base", intent=answer.intent
    ))  # fmt: skip
    facts.append(s.fact(m.UtteranceCaptured, utterance_id="u0", pcm=heard.encode()))
    facts.append(s.transcribed("u0", heard))
    if spoke_on:
        later = engine.reply(heard, [], KNOWLEDGE)
        replied = s.replied("u0", later.text, intent=later.intent or "")
        facts.append(dataclasses.replace(replied, engine="knowledge-base", intent=later.intent))
    facts.append(s.ended())
    return facts


async def test_an_early_answer_is_the_turn_of_the_utterance_it_answers():
    rec = recording("call-r", an_early_answered_call("what are your opening hours"))
    (turn,) = recorded_turns(rec)
    assert (turn.utterance_id, turn.transcript, turn.intent) == ("u0", "what are your opening hours", "hours")
    assert turn.stt_engine == "whisper"  # the final's, not the early turn's `partial`
    for stt in (None, ScriptedSTT()):
        made = await rerun_turns(rec, stt, KnowledgeEngine(), KNOWLEDGE)
        assert [t.utterance_id for t in made] == ["u0"]  # answered once, from the whole utterance
        assert not compare("call-r", recorded_turns(rec), made).changed


async def test_a_dropped_early_answer_gives_way_to_the_finals_reply():
    facts = an_early_answered_call("what are your opening hours", spoke_on="and where are you located")
    rec = recording("call-r", facts)
    (turn,) = recorded_turns(rec)
    early_reply, final_reply = [f for f in facts if isinstance(f, m.AgentReplied)]
    assert turn.transcript == "what are your opening hours and where are you located"
    assert turn.reply == final_reply.text and turn.reply != early_reply.text
    (made,) = await rerun_turns(rec, None, KnowledgeEngine(), KNOWLEDGE)
    assert made.reply == final_reply.text


async def test_duplicates_and_commands_are_left_out():
    facts = a_call(["what are your opening hours"])
    hangup = m.Hangup(**envelope("call-r", seq=1, source="dialog"))
    rec = recording("call-r", [*facts[:6], facts[5], hangup, *facts[6:]])
    assert rec.facts == tuple(facts)
    assert len(rec.utterances) == 1


def test_the_knowledge_file_shape_is_unchanged():
    # `--knowledge FILE` reads files shaped like the sample; this guards the example used in the docs
    sample = json.loads(open("streams/engines/sample_knowledge.json").read())
    assert {"entity_id", "title", "phrasings", "answer"} <= sample["entries"][0].keys()
