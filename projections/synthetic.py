"""A deterministic synthetic day of calls: every disposition, with transcripts, DTMF, quality and
recordings — the facts the edge and the streams would publish. For tests, benchmarks and demos.

`day_of_calls(n, seed)` returns `SyntheticCall`s whose `facts` are in the order the log would hold
them and whose `expected` says what the CDR must show.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import models as m

DAY_START = datetime(2026, 3, 2, tzinfo=UTC)
SCENARIOS = (
    "answered",
    "answered",
    "answered",
    "transferred",
    "rejected",
    "busy",
    "cancelled",
    "no-answer",
    "failed",
    "ack-timeout",
    "in-progress",
)


@dataclass(frozen=True, slots=True)
class SyntheticCall:
    call_id: str
    scenario: str
    disposition: str
    facts: tuple[Any, ...]
    turns: int
    digits: str


class _Builder:
    def __init__(self, call_id: str, t0: datetime, rng: random.Random) -> None:
        self.call_id = call_id
        self.t = t0
        self.rng = rng
        self.facts: list[Any] = []

    def add(self, model: type[Any], after_ms: float = 10.0, source: str = "edge-1", **fields: Any) -> Any:
        self.t += timedelta(milliseconds=after_ms)
        fact = model(
            event_id=uuid.UUID(int=self.rng.getrandbits(128), version=4),
            call_id=self.call_id,
            seq=len(self.facts) + 1,
            occurred_at=self.t,
            source=source,
            trace_id=self.call_id,
            **fields,
        )
        self.facts.append(fact)
        return fact


def _conversation(b: _Builder, turns: int, digits: str) -> None:
    rng = b.rng
    greeting = f"{b.call_id}:greeting"
    b.add(m.AgentReplied, 5, "streams", reply_id=greeting, text="Hello, how can I help?", engine="kb",
          latency_ms=1.0)  # fmt: skip
    b.add(m.SpeechSynthesized, 40, "streams", reply_id=greeting, text="Hello, how can I help?",
          sample_rate=8000, pcm=b"\x00\x01" * 16, engine="espeak", latency_ms=40.0)  # fmt: skip
    b.add(m.PlaybackStarted, 15, playback_id=greeting, duration_ms=1500)
    b.add(m.PlaybackFinished, 1500, playback_id=greeting, interrupted=False, played_ms=1500, duration_ms=1500)
    for i in range(turns):
        utt = f"u{i + 1}"
        reply = f"{utt}:reply"
        b.add(m.SpeechStarted, 300, utterance_id=utt, stream_ms=2000 + 3000 * i)
        b.add(m.UtteranceCaptured, 1200, utterance_id=utt, sample_rate=8000, pcm=b"\x00\x00" * 32,
              start_ms=2000 + 3000 * i, end_ms=3200 + 3000 * i)  # fmt: skip
        b.add(m.UtteranceTranscribed, rng.uniform(80, 400), "streams", utterance_id=utt,
              text=f"question {i + 1}", language="en-US", confidence=0.9, engine="whisper",
              latency_ms=rng.uniform(80, 400))  # fmt: skip
        b.add(m.AgentReplied, rng.uniform(5, 60), "streams", reply_id=reply, utterance_id=utt,
              text=f"answer {i + 1}", engine="kb", latency_ms=rng.uniform(5, 60))  # fmt: skip
        b.add(m.SpeechSynthesized, rng.uniform(30, 200), "streams", reply_id=reply, text=f"answer {i + 1}",
              sample_rate=8000, pcm=b"\x01\x00" * 32, engine="espeak",
              latency_ms=rng.uniform(30, 200))  # fmt: skip
        b.add(m.PlaybackStarted, 20, playback_id=reply, duration_ms=1000)
        interrupted = i == 1
        b.add(m.PlaybackFinished, 600 if interrupted else 1000, playback_id=reply, interrupted=interrupted,
              played_ms=600 if interrupted else 1000, duration_ms=1000,
              reason="barge_in" if interrupted else "completed")  # fmt: skip
    for d in digits:
        b.add(m.DtmfReceived, 250, digit=d, duration_ms=120, method="rfc4733")


def _call(call_id: str, scenario: str, t0: datetime, rng: random.Random) -> SyntheticCall:
    b = _Builder(call_id, t0, rng)
    caller = f"+9055{rng.randrange(10**7):07d}"
    callee = rng.choice(("100", "200", "444"))
    b.add(m.CallInviteReceived, 0, sip_call_id=f"{rng.getrandbits(48):x}@192.0.2.7",
          from_uri=f"sip:{caller}@192.0.2.7", to_uri=f"sip:{callee}@198.51.100.1", caller=caller,
          callee=callee, remote_addr="192.0.2.7:5060", transport="udp", user_agent="synthetic")  # fmt: skip
    turns, digits = 0, ""
    if scenario in ("rejected", "busy", "no-answer", "failed"):
        status, stage = {"rejected": (403, "dialplan"), "busy": (486, "dialplan"),
                         "no-answer": (480, "dialplan"), "failed": (503, "overload")}[scenario]  # fmt: skip
        if scenario != "failed":
            b.add(m.DialplanResolved, 2, dialplan_id="default", action="reject")
        b.add(m.CallRejected, 3, sip_status=status, reason=scenario, stage=stage)
        return SyntheticCall(call_id, scenario, scenario, tuple(b.facts), 0, "")
    b.add(m.DialplanResolved, 2, dialplan_id="default", action="agent")
    b.add(m.MediaPortAllocated, 1, rtp_port=20000 + 2 * rng.randrange(400), local_address="198.51.100.1")
    if scenario == "cancelled":
        b.add(m.CallCancelled, rng.uniform(100, 2000))
        b.add(m.CallEnded, 1, reason="cancelled", hangup_by="caller", sip_status=487,
              total_ms=int((b.t - t0).total_seconds() * 1000))  # fmt: skip
        b.add(m.MediaPortReleased, 1, rtp_port=20000)
        return SyntheticCall(call_id, scenario, "cancelled", tuple(b.facts), 0, "")
    answered = b.add(m.CallAnswered, rng.uniform(20, 300), codec=rng.choice(("PCMU", "PCMA")),
                     payload_type=0, srtp=rng.random() < 0.3, sdp_answer="v=0")  # fmt: skip
    setup_ms = (answered.occurred_at - t0).total_seconds() * 1000
    if scenario == "ack-timeout":
        b.add(m.CallEnded, 32000, reason="ack_timeout", hangup_by="system", sip_status=200, setup_ms=setup_ms,
              talk_ms=0, total_ms=int((b.t - t0).total_seconds() * 1000) + 32000)  # fmt: skip
        return SyntheticCall(call_id, scenario, "failed", tuple(b.facts), 0, "")
    b.add(m.CallEstablished, 30, ack_delay_ms=30.0)
    turns = rng.randrange(1, 5)
    digits = "".join(rng.choice("0123456789*#") for _ in range(rng.randrange(0, 3)))
    _conversation(b, turns, digits)
    if scenario == "in-progress":
        return SyntheticCall(call_id, scenario, "in-progress", tuple(b.facts), turns, digits)
    for final in (False, True):
        mos = round(rng.uniform(3.0, 4.4), 2)
        b.add(m.MediaQualityReported, 500, final=final, packets_received=5000, packets_lost=rng.randrange(50),
              loss_fraction=rng.uniform(0, 0.02), jitter_ms=rng.uniform(1, 30), rtt_ms=None,
              r_factor=mos * 20, mos=mos)  # fmt: skip
    b.add(m.RecordingFinished, 50, recording_id="rec", uri=f"file:///var/lib/sentiric/rec/{call_id}.wav",
          format="wav", size_bytes=128_000, duration_ms=8000)  # fmt: skip
    if scenario == "transferred":
        b.add(m.CallTransferred, 100, target_uri="sip:operator@198.51.100.9", status="completed",
              sip_status=202)  # fmt: skip
        reason, by = "transferred", "agent"
    else:
        reason, by = rng.choice((("caller_bye", "caller"), ("agent_hangup", "agent")))
    talk_ms = int((b.t - answered.occurred_at).total_seconds() * 1000) + 100
    b.add(m.CallEnded, 100, reason=reason, hangup_by=by, sip_status=200, setup_ms=setup_ms, talk_ms=talk_ms,
          total_ms=int((b.t - t0).total_seconds() * 1000) + 100)  # fmt: skip
    b.add(m.MediaPortReleased, 5, rtp_port=20000)
    disposition = "transferred" if scenario == "transferred" else "answered"
    return SyntheticCall(call_id, scenario, disposition, tuple(b.facts), turns, digits)


def day_of_calls(n: int, seed: int = 7, start: datetime = DAY_START) -> list[SyntheticCall]:
    """`n` calls spread over 24 hours from `start`, cycling through every scenario."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t0 = start + timedelta(seconds=rng.uniform(0, 86_000))
        call_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        out.append(_call(call_id, SCENARIOS[i % len(SCENARIOS)], t0, rng))
    return out


def interleaved(calls: list[SyntheticCall]) -> list[Any]:
    """Every call's facts merged by time, as a busy edge would publish them."""
    return sorted((f for c in calls for f in c.facts), key=lambda f: (f.occurred_at, f.call_id, f.seq))
