"""Tumbling-window KPIs (DESIGN.md, "Projections and queries"): ASR, ACD, PDD, speech-stage latency,
voice-to-voice latency, per window of `window_s` seconds of event time.

Two stages, so that windows are whole even with many workers: every worker turns the call facts of
its partitions into tiny `Measurement`s (`measure`), which go to one single-partition topic; the
worker that owns it folds them into windows (`KpiWindows`) and closes each window `grace_s` after
its end, as one `KpiWindowReported` per tenant seen in the window (its calls only) and one with tenant
`*` (every call on the platform, the same window). Voice-to-voice latency pairs the end of a caller's
utterance (`UtteranceCaptured`) with the start of the playback of its reply (`PlaybackStarted` whose id is
the reply id `<utterance_id>:reply`).
"""

from __future__ import annotations

import json
import math
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

from schemas import models as m
from schemas.envelope import DEFAULT_TENANT
from schemas.playback_ids import family_of
from schemas.turn_ids import EARLY_ENGINE, answered_utterance

MAX_PENDING_UTTERANCES: Final = 10_000
_NS: Final = uuid.UUID("3f6b1a2e-7c8d-4e9f-a0b1-c2d3e4f5a6b7")
_LATENCY_KINDS: Final = ("pdd", "stt", "dialog", "tts", "v2v")
PLATFORM: Final = "*"
"""The tenant of the window of every call on the platform."""


@dataclass(frozen=True, slots=True)
class Measurement:
    kind: str
    at: float
    """Event time, seconds since the epoch."""
    value: float | None = None
    key: str | None = None
    tenant: str = DEFAULT_TENANT
    """The tenant of the call measured (its fact's)."""

    def __bytes__(self) -> bytes:
        return json.dumps([self.kind, self.at, self.value, self.key, self.tenant]).encode()

    @classmethod
    def parse(cls, data: bytes) -> Measurement:
        """A measurement's bytes; one written before tenants (four items) is the default tenant's."""
        try:
            kind, at, value, key, *rest = json.loads(data)
            if len(rest) > 1 or (rest and not isinstance(rest[0], str)):
                raise ValueError("a tenant is one string")
            tenant = rest[0] if rest else DEFAULT_TENANT
            return cls(str(kind), float(at), None if value is None else float(value), key, tenant)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"invalid measurement: {exc}") from None


def measure(fact: Any) -> list[Measurement]:
    """The measurements of one call fact, each its call's tenant's."""
    tenant = getattr(fact, "tenant", DEFAULT_TENANT)
    return [replace(x, tenant=tenant) for x in _measure(fact)] if tenant != DEFAULT_TENANT else _measure(fact)


def _measure(fact: Any) -> list[Measurement]:
    t = fact.occurred_at.timestamp()
    match fact:
        case m.CallInviteReceived():
            return [Measurement("offered", t)]
        case m.CallAnswered():
            return [Measurement("answered", t)]
        case m.CallRejected():
            return [Measurement("rejected", t)]
        case m.CallEnded():
            out = [Measurement("ended", t, float(fact.talk_ms))]
            if fact.setup_ms is not None:
                out.append(Measurement("pdd", t, fact.setup_ms))
            return out
        case m.UtteranceTranscribed() if fact.engine == "turn":
            # The dialog's joined turn of a caller who paused mid-sentence (no STT work of its own): the
            # reply answers it, and its time is the last part's capture (or, when the hold ran out,
            # the hold timer's: the reply delay then leaves the hold out).
            return [Measurement("heard", t, key=f"{fact.utterance_id}:reply")]
        case m.UtteranceTranscribed() if not fact.is_final or fact.engine in (
            EARLY_ENGINE,
            "dtmf",
            "provided",
        ):
            return []  # previews, and turns with no STT work of their own (an early turn's is its partial's)
        case m.UtteranceTranscribed():
            return [Measurement("stt", t, fact.latency_ms)]
        case m.AgentReplied() if fact.utterance_id is not None and fact.final:
            return [Measurement("dialog", t, fact.latency_ms)]
        case m.SpeechSynthesized():
            return [Measurement("tts", t, fact.latency_ms)]
        case m.UtteranceCaptured():
            return [Measurement("heard", t, key=f"{fact.utterance_id}:reply")]
        case m.PlaybackStarted():
            # a reply's first piece; an early turn's reply answers the utterance it was taken from
            reply = family_of(fact.playback_id)
            key = f"{answered_utterance(reply.removesuffix(':reply'))}:reply"
            return [Measurement("spoke", t, key=key)]
    return []


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(slots=True)
class _Window:
    counts: dict[str, int] = field(default_factory=dict)
    talk_ms: list[float] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in _LATENCY_KINDS})


class KpiWindows:
    def __init__(self, window_s: float = 60.0, grace_s: float = 10.0, source: str = "analytics") -> None:
        self.window_s = window_s
        self.grace_s = grace_s
        self.source = source
        self._windows: dict[float, dict[str, _Window]] = {}  # by start, then tenant (and PLATFORM)
        self._closed_until = -math.inf
        self._heard: OrderedDict[str, float] = OrderedDict()
        self.late = 0

    def observe(self, x: Measurement) -> None:
        if x.kind == "heard" and x.key is not None:
            self._heard[x.key] = x.at
            while len(self._heard) > MAX_PENDING_UTTERANCES:
                self._heard.popitem(last=False)
            return
        if x.kind == "spoke":
            heard = self._heard.pop(x.key or "", None)
            if heard is None:
                return  # a prompt (greeting, reprompt), not an answer to the caller
            x = Measurement("v2v", x.at, (x.at - heard) * 1000.0, tenant=x.tenant)
        start = math.floor(x.at / self.window_s) * self.window_s
        if start < self._closed_until:
            self.late += 1
            return
        by_tenant = self._windows.setdefault(start, {})
        for tenant in (x.tenant, PLATFORM):
            w = by_tenant.setdefault(tenant, _Window())
            w.counts[x.kind] = w.counts.get(x.kind, 0) + 1
            if x.kind == "ended" and x.value:
                w.talk_ms.append(x.value)
            elif x.kind in w.latencies and x.value is not None:
                w.latencies[x.kind].append(x.value)

    def close(self, now: float) -> list[m.KpiWindowReported]:
        """Reports of every window whose end plus grace has passed, oldest first: per window, one per
        tenant seen in it (by tenant id), then the platform's (`*`)."""
        out: list[m.KpiWindowReported] = []
        for start in sorted(self._windows):
            end = start + self.window_s
            if end + self.grace_s > now:
                break
            by_tenant = self._windows.pop(start)
            platform = by_tenant.pop(PLATFORM)
            out.extend(self._report(start, end, tenant, by_tenant[tenant]) for tenant in sorted(by_tenant))
            out.append(self._report(start, end, PLATFORM, platform))
            self._closed_until = end
        return out

    def _report(self, start: float, end: float, tenant: str, w: _Window) -> m.KpiWindowReported:
        offered, answered = w.counts.get("offered", 0), w.counts.get("answered", 0)
        lat = w.latencies
        # the platform's window keeps the id it had before tenants: a re-run reports the same record
        name = f"{self.source}/{start}" if tenant == PLATFORM else f"{self.source}/{start}/{tenant}"
        return m.KpiWindowReported(
            event_id=uuid.uuid5(_NS, name),
            window_start=datetime.fromtimestamp(start, UTC),
            window_end=datetime.fromtimestamp(end, UTC),
            occurred_at=datetime.fromtimestamp(end, UTC),
            source=self.source,
            trace_id=f"kpi:{int(start)}",
            tenant=tenant,
            calls_offered=offered,
            calls_answered=answered,
            calls_ended=w.counts.get("ended", 0),
            calls_rejected=w.counts.get("rejected", 0),
            asr=answered / offered if offered else None,
            acd_ms=sum(w.talk_ms) / len(w.talk_ms) if w.talk_ms else None,
            **{f"{k}_ms_p{q}": percentile(lat[k], q) for k in _LATENCY_KINDS for q in (50, 95)},
        )
