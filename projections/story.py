"""A call's whole story, for the dashboard's call page: its decoded timeline (`projections.timeline`)
folded into what a person reads — the SIP ladder, the turns (each utterance and each agent reply with a
link to its audio), the decisions, the latency of each stage of each answer, and media quality over
time. Pure: decoded records in, a JSON-ready dict out (`GET /api/calls/{id}/story`).

The latency of each stage of each answer and the engines' own times are `sentiric.turn_stages`' (shared
with `sentiric replay call`).

The SIP ladder is every `SipMessageObserved` fact (direction, first line, when) when the edge records
signalling; for calls recorded before it did, the ladder is derived from the call facts (INVITE,
final response, ACK, CANCEL, BYE) and says so (`sip_source: "derived"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

from projections.timeline import timeline_json
from schemas import models as m
from schemas.codec import type_name
from schemas.turn_ids import EARLY_ENGINE
from sentiric.eventlog.consumer import Decoded
from sentiric.turn_stages import StageIndex, answer_stages, logged_at

SIP_FACT: Final = "SipMessageObserved"
AUDIO_FACTS: Final = (m.UtteranceCaptured, m.SpeechSynthesized)
PCM_SAMPLE_BYTES: Final = 2


def audio_url(call_id: str, offset: int) -> str:
    return f"/api/calls/{quote(call_id, safe='')}/audio/{offset}.wav"


def pcm_ms(pcm: bytes, sample_rate: int) -> float | None:
    return len(pcm) / PCM_SAMPLE_BYTES / sample_rate * 1000 if sample_rate > 0 else None


def _iso(at: Any) -> Any:
    return at.isoformat() if isinstance(at, datetime) else at


def _first(facts: Sequence[Decoded], cls: type[Any]) -> Any | None:
    return next((d.record for d in facts if isinstance(d.record, cls)), None)


def derived_ladder(facts: Sequence[Decoded]) -> list[dict[str, Any]]:
    """The SIP messages the call facts imply, for calls recorded without `SipMessageObserved`."""
    invite = _first(facts, m.CallInviteReceived)
    if invite is None or invite.channel != "sip":
        return []
    # Directions as seen by the edge: "in" reached it, "out" it sent.
    inbound = invite.direction != "outbound"
    req, resp = ("in", "out") if inbound else ("out", "in")
    out: list[dict[str, Any]] = [
        {"at": invite.occurred_at, "direction": req, "first_line": f"INVITE {invite.to_uri} SIP/2.0"}
    ]
    answered = False
    for d in facts:
        f = d.record
        if isinstance(f, m.CallCancelled):
            out.append(
                {"at": f.occurred_at, "direction": req, "first_line": f"CANCEL {invite.to_uri} SIP/2.0"}
            )
        elif isinstance(f, m.CallRejected):
            out.append({"at": f.occurred_at, "direction": resp, "first_line": f"SIP/2.0 {f.sip_status}"})
        elif isinstance(f, m.CallAnswered):
            answered = True
            out.append({"at": f.occurred_at, "direction": resp, "first_line": "SIP/2.0 200 OK"})
        elif isinstance(f, m.CallEstablished):
            out.append({"at": f.occurred_at, "direction": req, "first_line": f"ACK {invite.to_uri} SIP/2.0"})
        elif isinstance(f, m.CallEnded) and answered:
            bye = "in" if f.hangup_by == "caller" else "out"  # "caller": the far end, either direction
            ok = "out" if bye == "in" else "in"
            out.append({"at": f.occurred_at, "direction": bye, "first_line": "BYE SIP/2.0"})
            out.append({"at": f.occurred_at, "direction": ok, "first_line": "SIP/2.0 200 OK"})
    return out


# Whatever words the signalling fact uses for a direction, the page draws "in" (reached the edge) and
# "out" (the edge sent it).
_INWARD: Final = frozenset({"in", "inbound", "incoming", "received", "recv", "rx"})
_OUTWARD: Final = frozenset({"out", "outbound", "outgoing", "sent", "send", "tx"})


def _direction(value: Any) -> str | None:
    word = str(value).lower() if value is not None else ""
    return "in" if word in _INWARD else "out" if word in _OUTWARD else word or None


def observed_ladder(facts: Sequence[Decoded]) -> list[dict[str, Any]]:
    """Every recorded SIP message, read by field name so any version of the fact renders."""
    out = []
    for d in facts:
        if type_name(d.record) != SIP_FACT:
            continue
        f = d.record
        at = getattr(f, "at", None) or f.occurred_at
        out.append(
            {
                "at": at,
                "direction": _direction(getattr(f, "direction", None)),
                "first_line": getattr(f, "first_line", None),
                "offset": d.offset,
            }
        )
    return out


def _caller_turn(call_id: str, d: Decoded, transcript: Any | None) -> dict[str, Any]:
    u: m.UtteranceCaptured = d.record
    return {
        "speaker": "caller",
        "at": logged_at(d),
        "utterance_id": u.utterance_id,
        "text": transcript.text if transcript is not None else u.text,
        "stt_engine": transcript.engine if transcript is not None else None,
        "confidence": transcript.confidence if transcript is not None else None,
        "offset": d.offset,
        "audio_url": audio_url(call_id, d.offset) if u.pcm else None,
        "duration_ms": pcm_ms(u.pcm, u.sample_rate),
        "start_ms": u.start_ms,
        "end_ms": u.end_ms,
        "end_reason": u.end_reason,
    }


def _typed_turn(d: Decoded) -> dict[str, Any]:
    """A caller's words without captured audio (typed in the browser, or audio not recorded)."""
    t: m.UtteranceTranscribed = d.record
    return {"speaker": "caller", "at": logged_at(d), "utterance_id": t.utterance_id, "text": t.text,
            "stt_engine": t.engine, "confidence": t.confidence, "offset": None, "audio_url": None,
            "duration_ms": None}  # fmt: skip


def story(call_id: str, records: Sequence[Decoded]) -> dict[str, Any]:
    """The call page's model. `records`: the call's timeline (facts and commands, in order)."""
    facts = [d for d in records if not isinstance(d.record, m.Command)]
    by = StageIndex.of(facts)

    turns: list[dict[str, Any]] = []
    shown: set[str] = set()
    for d in facts:
        f = d.record
        if isinstance(f, m.UtteranceCaptured) and f.utterance_id not in shown:
            shown.add(f.utterance_id)
            heard = by.final.get(f.utterance_id)
            turns.append(_caller_turn(call_id, d, heard.record if heard is not None else None))
        elif isinstance(f, m.UtteranceTranscribed) and f.is_final and f.utterance_id not in shown:
            if f.utterance_id not in by.captured and f.engine != EARLY_ENGINE:  # early: not a turn of its own
                shown.add(f.utterance_id)
                turns.append(_typed_turn(d))
        elif isinstance(f, m.AgentReplied) and f.final and f.reply_id not in shown:  # a streamed one: whole
            shown.add(f.reply_id)
            turns.append(_agent_turn(call_id, d, by))

    sip = observed_ladder(facts)
    sip_source = "observed" if sip else "derived"
    if not sip:
        sip = derived_ladder(facts)
    quality = [
        {
            "at": f.occurred_at,
            "jitter_ms": f.jitter_ms,
            "loss_fraction": f.loss_fraction,
            "mos": f.mos,
            "rtt_ms": f.rtt_ms,
            "final": f.final,
        }
        for f in (d.record for d in facts)
        if isinstance(f, m.MediaQualityReported)
    ]
    out = {
        "call_id": call_id,
        "sip": sip,
        "sip_source": sip_source,
        "turns": turns,
        "quality": quality,
        "events": [timeline_json(d) for d in records],
    }
    jsonable: dict[str, Any] = _json_times(out)
    return jsonable


def _agent_turn(call_id: str, replied: Decoded, by: StageIndex) -> dict[str, Any]:
    r: m.AgentReplied = replied.record
    speech = by.synthesized.get(r.reply_id)
    s: m.SpeechSynthesized | None = speech.record if speech is not None else None
    done = by.finished.get(r.reply_id)
    stages = answer_stages(replied, by)
    return {
        "speaker": "agent",
        "at": logged_at(replied),
        "reply_id": r.reply_id,
        "utterance_id": r.utterance_id,
        "text": r.text,
        "intent": r.intent,
        "engine": r.engine,
        "end_conversation": r.end_conversation,
        "offset": speech.offset if speech is not None else None,
        "audio_url": audio_url(call_id, speech.offset) if speech is not None and s and s.pcm else None,
        "duration_ms": pcm_ms(s.pcm, s.sample_rate) if s is not None and s.pcm else None,
        "played_ms": done.record.played_ms if done is not None else None,
        "interrupted": done.record.interrupted if done is not None else None,
        "latency_ms": stages.latency_ms if stages is not None else {},
        "engine_ms": stages.engine_ms if stages is not None else {},
    }


def _json_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_times(v) for v in value]
    return _iso(value)
