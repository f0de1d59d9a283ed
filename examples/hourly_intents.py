"""Example (a): intents and unanswered questions per hour, from the transcripts on `sentiric.calls`.

Every reply the dialog engine gives to a caller's question (`AgentReplied` with an `utterance_id`)
counts under its intent, in the hour of its event time; a reply whose intent is `fallback` (the
knowledge engine found no answer) files the caller's question (the final `UtteranceTranscribed` of
that utterance) as unanswered. After every change the hour's summary goes to `examples.hourly-intents`
as JSON, keyed by the hour: the latest message per key is the hour's count so far.

State is in memory, so the app never commits offsets (`calls_topic(app, replay=True)`): every start,
the first and after a restart alike, counts the retained log again from offset 0. While it catches up
an hour's summary climbs back to its total; the latest message per hour is right once it has.

    sentiric processor run examples.hourly_intents:intents
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import faust

from schemas import models as m
from sentiric import processors

OUTPUT: Final = "examples.hourly-intents"
UNANSWERED_INTENTS: Final = frozenset({"fallback"})
MAX_PENDING: Final = 50_000


def hour_of(at: datetime) -> str:
    return at.replace(minute=0, second=0, microsecond=0).isoformat()


@dataclass(slots=True)
class Hour:
    intents: dict[str, int] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)

    def to_json(self, hour: str) -> dict[str, Any]:
        return {"hour": hour, "intents": dict(sorted(self.intents.items())), "unanswered": self.unanswered}


class HourlyIntents:
    """The pure fold: facts in, the hours they changed out."""

    def __init__(self) -> None:
        self.hours: dict[str, Hour] = {}
        self._questions: OrderedDict[tuple[str, str], str] = OrderedDict()

    def observe(self, fact: Any) -> str | None:
        match fact:
            case m.UtteranceTranscribed(is_final=True):
                self._questions[(fact.call_id, fact.utterance_id)] = fact.text
                while len(self._questions) > MAX_PENDING:
                    self._questions.popitem(last=False)  # calls whose reply never came
            case m.AgentReplied(utterance_id=str() as utterance_id):
                hour = hour_of(fact.occurred_at)
                counts = self.hours.setdefault(hour, Hour())
                intent = fact.intent or "unknown"
                counts.intents[intent] = counts.intents.get(intent, 0) + 1
                question = self._questions.pop((fact.call_id, utterance_id), None)
                if intent in UNANSWERED_INTENTS and question is not None:
                    counts.unanswered.append(question)
                return hour
        return None


app = processors.create_app(os.environ.get("HOURLY_INTENTS_APP", "example-hourly-intents"))
calls = processors.calls_topic(app, replay=True)  # the fold is in memory: rebuild it on every start
output = processors.output_topic(app, OUTPUT, partitions=1, config={"cleanup.policy": "compact"})
fold = HourlyIntents()


@app.agent(calls)
async def intents(stream: faust.StreamT[bytes]) -> None:
    proc = processors.Processor(app, "example-hourly-intents")
    async for fact in proc.records(stream, m.UtteranceTranscribed, m.AgentReplied):
        with proc.guard():
            hour = fold.observe(fact)
            if hour is not None:
                summary = fold.hours[hour].to_json(hour)
                await output.send(key=hour.encode(), value=json.dumps(summary).encode())
