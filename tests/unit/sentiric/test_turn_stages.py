"""An answer's stages from its decoded records: log time between the facts, the engines' own times,
the edge's voice-to-voice; prompts have none; one line per answer for `replay call`."""

from __future__ import annotations

from typing import Any

from schemas import models as m
from sentiric.eventlog.consumer import Decoded
from sentiric.turn_stages import StageIndex, answer_stages, stages_line
from streams.dialog.script import CallScript


def logged(records: list[Any], every_ms: int = 100) -> list[Decoded]:
    """Read from the log at offsets 0…, each record `every_ms` after the one before it."""
    return [Decoded(r, "sentiric.calls", 0, i, 1_000_000 + i * every_ms) for i, r in enumerate(records)]


def answered() -> list[Decoded]:
    s = CallScript("call-t")
    return logged([
        s.fact(m.AgentReplied, reply_id="greet", text="Hello", intent=None),
        s.fact(m.UtteranceCaptured, utterance_id="u1", start_ms=0, end_ms=900),
        s.transcribed("u1", "opening hours"),
        s.replied("u1", "We are open Monday to Friday from nine to six.", intent="hours"),
        s.synthesized("u1:reply", "We are open Monday to Friday from nine to six."),
        *s.played("u1:reply"),
    ])  # fmt: skip


def test_each_stage_is_the_log_time_between_its_facts() -> None:
    records = answered()
    by = StageIndex.of(records)
    greeting, answer = (d for d in records if isinstance(d.record, m.AgentReplied))
    assert answer_stages(greeting, by) is None  # a prompt answers no utterance
    stages = answer_stages(answer, by)
    assert stages is not None
    assert {k: stages.latency_ms[k] for k in ("stt", "dialog", "tts", "playout")} == {
        "stt": 100.0, "dialog": 100.0, "tts": 100.0, "playout": 100.0,
    }  # fmt: skip
    assert stages.engine_ms["dialog"] == answer.record.latency_ms
    assert stages.latency_ms["voice_to_voice"] is not None


def test_a_missing_stage_is_none_and_shown_as_a_dash() -> None:
    records = [d for d in answered() if not isinstance(d.record, m.PlaybackStarted)]
    answer = next(d for d in records if isinstance(d.record, m.AgentReplied) and d.record.utterance_id)
    stages = answer_stages(answer, StageIndex.of(records))
    assert stages is not None and stages.latency_ms["playout"] is None
    line = stages_line(stages)
    assert line.startswith("stt 100 ms (engine 1)  dialog 100 ms (engine 1)  tts 100 ms")
    assert line.endswith("playout —  voice-to-voice —")


def test_an_early_answer_is_timed_from_the_pause_it_was_prepared_at() -> None:
    """Prepared at the caller's pause: stt is the pause chunk's partial decode, dialog counts from the
    dialog's early turn, and voice-to-voice from the capture of the utterance it answers."""
    s = CallScript("call-t")
    records = logged([
        s.fact(m.UtteranceChunkCaptured, utterance_id="u1", index=2, pause=True),
        s.fact(m.UtteranceTranscribed, utterance_id="u1", text="opening hours", is_final=False, pause=True,
               latency_ms=90.0),
        s.fact(m.UtteranceTranscribed, utterance_id="u1:early:5", text="opening hours", engine="partial",
               latency_ms=0.0, source="dialog"),
        s.replied("u1:early:5", "We are open.", intent="hours"),
        s.synthesized("u1:early:5:reply", "We are open."),
        s.fact(m.UtteranceCaptured, utterance_id="u1", start_ms=0, end_ms=900),
        s.transcribed("u1", "opening hours"),
        *s.played("u1:early:5:reply"),
    ])  # fmt: skip
    answer = next(d for d in records if isinstance(d.record, m.AgentReplied))
    stages = answer_stages(answer, StageIndex.of(records))
    assert stages is not None
    assert stages.latency_ms["stt"] == 100.0 and stages.engine_ms["stt"] == 90.0
    assert stages.latency_ms["dialog"] == 100.0 and stages.latency_ms["tts"] == 100.0
    assert stages.latency_ms["playout"] == 300.0  # held at the edge until the utterance ended
    assert stages.latency_ms["voice_to_voice"] is not None
