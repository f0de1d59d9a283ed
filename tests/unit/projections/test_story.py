"""The call page's model from a call's decoded timeline: turns with their audio links, decisions, the
latency of each stage, media quality, and the SIP ladder (observed facts, or derived without them)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from projections.story import audio_url, derived_ladder, story
from schemas import models as m
from sentiric.eventlog.consumer import Decoded
from streams.dialog.script import CallScript

PCM = b"\x01\x00" * 8000  # one second at 8 kHz


def decoded(
    records: list[Any], topic: str = "sentiric.calls", logged: list[int] | None = None
) -> list[Decoded]:
    """As read from the log at offsets 100…; `logged`: each record's log timestamp (ms), else none."""
    stamps = logged or [0] * len(records)
    return [Decoded(r, topic, 0, 100 + i, stamps[i]) for i, r in enumerate(records)]


def a_call() -> tuple[CallScript, list[Any]]:
    """Greeting, one question answered (facts 100 ms apart), quality reports, the caller's BYE."""
    s = CallScript("call-s")
    facts = [*s.setup(), s.established()]  # offsets 100..104; CallAnswered at 103
    facts += [
        s.fact(m.AgentReplied, reply_id="greet", text="Hello", intent=None),
        s.fact(m.SpeechSynthesized, reply_id="greet", text="Hello"),
        *s.played("greet"),
        s.fact(m.MediaQualityReported, jitter_ms=2.5, mos=4.3),
        s.fact(m.UtteranceCaptured, utterance_id="u1", pcm=PCM, sample_rate=8000, start_ms=500, end_ms=900),
        s.fact(m.UtteranceTranscribed, utterance_id="u1", text="opening", is_final=False),
        s.transcribed("u1", "opening hours"),
        s.replied("u1", "Nine to six", intent="hours"),
        s.synthesized("u1:reply", "Nine to six"),
        *s.played("u1:reply"),
        s.fact(m.MediaQualityReported, jitter_ms=4.0, loss_fraction=0.01, mos=4.1, final=True),
        s.ended(),
    ]
    return s, facts


def test_turns_carry_text_decisions_and_audio_links() -> None:
    _, facts = a_call()
    out = story("call-s", decoded(facts))
    turns = out["turns"]
    assert [(t["speaker"], t["text"]) for t in turns] == [
        ("agent", "Hello"),
        ("caller", "opening hours"),  # the final transcript, not the partial
        ("agent", "Nine to six"),
    ]
    greeting, question, answer = turns
    assert greeting["audio_url"] == audio_url("call-s", 106) and greeting["latency_ms"] == {}
    assert question["audio_url"] == "/api/calls/call-s/audio/110.wav"
    assert question["duration_ms"] == 1000.0 and question["stt_engine"] == "whisper"
    assert answer["intent"] == "hours" and answer["offset"] == 114
    assert answer["played_ms"] == 1000 and answer["interrupted"] is False


def test_each_stage_of_an_answer_is_timed_by_the_log() -> None:
    _, facts = a_call()
    # Workers stamp their facts with their cause's time; the log's timestamps say when each was sent.
    cause = next(f for f in facts if isinstance(f, m.UtteranceCaptured)).occurred_at
    stamp = {m.UtteranceTranscribed: 300, m.AgentReplied: 350, m.SpeechSynthesized: 500}
    base = int(cause.timestamp() * 1000)
    logged = []
    for f in facts:
        if type(f) in stamp and f.source != "edge-1":
            logged.append(base + stamp[type(f)])
        elif isinstance(f, m.PlaybackStarted) and f.playback_id == "u1:reply":
            logged.append(base + 520)
        else:
            logged.append(int(f.occurred_at.timestamp() * 1000))
    worker = (m.UtteranceTranscribed, m.AgentReplied, m.SpeechSynthesized)
    facts = [dataclasses.replace(f, occurred_at=cause) if isinstance(f, worker) else f for f in facts]
    answer = story("call-s", decoded(facts, logged=logged))["turns"][-1]
    assert answer["latency_ms"]["stt"] == 300.0
    assert answer["latency_ms"]["dialog"] == 50.0
    assert answer["latency_ms"]["tts"] == 150.0
    assert answer["latency_ms"]["playout"] == 20.0
    # The edge's own clock, capture to playback: five facts later, 100 ms apart in the script.
    assert answer["latency_ms"]["voice_to_voice"] == 500.0
    assert answer["engine_ms"] == {"stt": 1.0, "dialog": 1.0, "tts": 1.0}  # the facts' latency_ms


def test_without_log_timestamps_the_facts_times_are_used() -> None:
    _, facts = a_call()
    answer = story("call-s", decoded(facts))["turns"][-1]
    # captured → (partial) → final: 200 ms; then 100 ms per stage (the script's cadence)
    assert answer["latency_ms"] == {"stt": 200.0, "dialog": 100.0, "tts": 100.0, "playout": 100.0,
                                    "voice_to_voice": 500.0}  # fmt: skip


def test_a_missing_stage_is_none_not_a_guess() -> None:
    _, facts = a_call()
    facts = [f for f in facts if not isinstance(f, m.PlaybackStarted)]
    answer = story("call-s", decoded(facts))["turns"][-1]
    assert answer["latency_ms"]["playout"] is None and answer["latency_ms"]["voice_to_voice"] is None
    assert answer["latency_ms"]["tts"] == 100.0


def test_quality_over_time_and_the_whole_timeline() -> None:
    _, facts = a_call()
    envelope = {
        k: getattr(facts[0], k) for k in ("event_id", "call_id", "seq", "occurred_at", "source", "trace_id")
    }
    commands = [Decoded(m.Hangup(**envelope, reason="operator"), "sentiric.commands.edge-1", 0, 7, 0)]
    out = story("call-s", decoded(facts) + commands)
    assert [(q["jitter_ms"], q["mos"], q["final"]) for q in out["quality"]] == [
        (2.5, 4.3, False),
        (4.0, 4.1, True),
    ]
    assert len(out["events"]) == len(facts) + 1 and out["events"][-1]["type"] == "Hangup"
    assert out["events"][0]["type"] == "CallInviteReceived" and out["events"][0]["log"]["offset"] == 100
    assert "pcm" not in out["events"][10] and out["events"][10]["pcm_bytes"] == len(PCM)
    assert isinstance(out["turns"][0]["at"], str)  # JSON-ready


def test_typed_words_are_a_caller_turn_without_audio() -> None:
    s = CallScript("call-t")
    facts = [*s.setup(), s.transcribed("typed-1", "where is your shop"), s.replied("typed-1", "Main St")]
    turns = story("call-t", decoded(facts))["turns"]
    assert turns[0] == {**turns[0], "speaker": "caller", "text": "where is your shop", "audio_url": None}
    assert turns[1]["latency_ms"]["dialog"] == 100.0 and turns[1]["latency_ms"]["stt"] is None


def test_the_ladder_is_derived_from_the_call_facts_without_observed_messages() -> None:
    _, facts = a_call()
    out = story("call-s", decoded(facts))
    assert out["sip_source"] == "derived"
    assert [(x["direction"], x["first_line"]) for x in out["sip"]] == [
        ("in", "INVITE sip:100@example.com SIP/2.0"),
        ("out", "SIP/2.0 200 OK"),
        ("in", "ACK sip:100@example.com SIP/2.0"),
        ("in", "BYE SIP/2.0"),
        ("out", "SIP/2.0 200 OK"),
    ]


def test_an_outbound_call_the_agent_hangs_up_reverses_the_arrows() -> None:
    s = CallScript("call-o")
    facts = [s.fact(m.CallInviteReceived, direction="outbound"), s.fact(m.CallAnswered), s.established()]
    facts.append(s.ended(hangup_by="agent"))
    ladder = derived_ladder(decoded(facts))
    assert [x["direction"] for x in ladder] == ["out", "in", "out", "out", "in"]


def test_a_rejected_and_a_web_call() -> None:
    s = CallScript("call-r")
    rejected = derived_ladder(decoded([s.fact(m.CallInviteReceived), s.fact(m.CallRejected, sip_status=486)]))
    assert [x["first_line"] for x in rejected] == ["INVITE sip:100@example.com SIP/2.0", "SIP/2.0 486"]
    web = CallScript("call-w")
    assert derived_ladder(decoded([web.fact(m.CallInviteReceived, channel="web", transport="ws")])) == []


@dataclasses.dataclass(frozen=True)
class SipMessageObserved:
    """Stands in for the edge's signalling fact, read by field name (before and after it exists)."""

    call_id: str
    occurred_at: Any
    at: Any
    direction: str
    first_line: str

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def test_observed_messages_replace_the_derived_ladder() -> None:
    _, facts = a_call()
    at = facts[0].occurred_at
    later = at + timedelta(milliseconds=5)
    seen = [
        SipMessageObserved("call-s", at, at, "in", "INVITE sip:100@example.com SIP/2.0"),
        SipMessageObserved("call-s", at, later, "sent", "SIP/2.0 100 Trying"),  # another word for out
    ]
    records = [Decoded(r, "sentiric.calls", 0, 50 + i, 0) for i, r in enumerate(seen)] + decoded(facts)
    out = story("call-s", records)
    assert out["sip_source"] == "observed"
    assert [(x["direction"], x["first_line"], x["offset"]) for x in out["sip"]] == [
        ("in", "INVITE sip:100@example.com SIP/2.0", 50),
        ("out", "SIP/2.0 100 Trying", 51),
    ]
    assert out["sip"][1]["at"] == (at + timedelta(milliseconds=5)).isoformat()
