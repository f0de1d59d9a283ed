"""The latency of each stage of an answer, read from a call's decoded records — shared by the call page
(`projections.story`) and `sentiric replay call`.

Each stage is the time between two records reaching the log (their Kafka timestamps, stamped by each
producer's clock when it sent them: a worker's fact carries its cause's `occurred_at`, so that field
cannot time the worker), end of speech being the endpointer's `UtteranceCaptured`:

    UtteranceCaptured ─stt→ UtteranceTranscribed (final) ─dialog→ AgentReplied ─tts→ SpeechSynthesized
        ─playout→ PlaybackStarted

An early answer (the dialog's turn from the words up to the caller's pause, `schemas.turn_ids`) is
timed from that pause: stt from the pause chunk to its partial transcript, dialog from the early turn,
and its playout includes the edge holding the audio until the end silence ended the utterance;
voice-to-voice is still from the utterance's capture.

So a stage includes the log hops and any queueing, as the caller lives it; the engine's own compute time
is beside it (the facts' `latency_ms`). `voice_to_voice` is the edge's own clock from the utterance's
capture to the answer's playback start (the KPI of the same name). A stage whose facts are missing is
None.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from schemas import models as m
from schemas.playback_ids import family_of
from schemas.turn_ids import answered_utterance
from sentiric.eventlog.consumer import Decoded

STAGES: Final = ("stt", "dialog", "tts", "playout")


def logged_at(d: Decoded) -> datetime:
    """When the record reached the log (its producer's timestamp); its `occurred_at` without one."""
    if d.timestamp_ms > 0:
        return datetime.fromtimestamp(d.timestamp_ms / 1000, UTC)
    occurred: datetime = d.record.occurred_at
    return occurred


def ms_between(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds() * 1000, 1)


def _logged(d: Decoded | None) -> datetime | None:
    return logged_at(d) if d is not None else None


@dataclass(slots=True)
class StageIndex:
    """The facts an answer's stages are read from, by utterance, reply or playback id (first wins)."""

    captured: dict[str, Decoded] = field(default_factory=dict)
    final: dict[str, Decoded] = field(default_factory=dict)
    synthesized: dict[str, Decoded] = field(default_factory=dict)
    started: dict[str, Decoded] = field(default_factory=dict)
    finished: dict[str, Decoded] = field(default_factory=dict)
    paused: dict[str, Decoded] = field(default_factory=dict)
    """An utterance's latest pause chunk, then its partial transcript (by utterance id)."""
    pause_text: dict[str, Decoded] = field(default_factory=dict)
    early_cause: dict[str, tuple[Decoded, Decoded | None]] = field(default_factory=dict)
    """An early turn's pause chunk and partial transcript (by the early turn's utterance id)."""

    @classmethod
    def of(cls, records: Iterable[Decoded]) -> StageIndex:
        index = cls()
        for d in records:
            index.add(d)
        return index

    def add(self, d: Decoded) -> None:
        f = d.record
        if isinstance(f, m.UtteranceCaptured):
            self.captured.setdefault(f.utterance_id, d)
        elif isinstance(f, m.UtteranceChunkCaptured) and f.pause:
            self.paused[f.utterance_id] = d
        elif isinstance(f, m.UtteranceTranscribed) and not f.is_final and f.pause:
            self.pause_text[f.utterance_id] = d
        elif isinstance(f, m.UtteranceTranscribed) and f.is_final:
            self.final.setdefault(f.utterance_id, d)
            cause = answered_utterance(f.utterance_id)
            if cause != f.utterance_id and cause in self.paused:
                self.early_cause[f.utterance_id] = (self.paused[cause], self.pause_text.get(cause))
        elif isinstance(f, m.SpeechSynthesized):
            self.synthesized.setdefault(f.reply_id, d)
        elif isinstance(f, m.PlaybackStarted):
            self.started.setdefault(family_of(f.playback_id), d)  # a streamed reply's first piece
        elif isinstance(f, m.PlaybackFinished):
            if family_of(f.playback_id) != f.playback_id:
                self.finished[family_of(f.playback_id)] = d  # a streamed reply ends with its last piece
            else:
                self.finished.setdefault(f.playback_id, d)


@dataclass(frozen=True, slots=True)
class AnswerStages:
    latency_ms: dict[str, float | None]
    """stt, dialog, tts, playout (log time) and voice_to_voice (the edge's clock)."""
    engine_ms: dict[str, float | None]
    """stt, dialog, tts: the engines' own compute time."""


def answer_stages(replied: Decoded, by: StageIndex) -> AnswerStages | None:
    """The stages of the answer ``replied`` (an `AgentReplied`); None for a prompt (a greeting, a
    reprompt), which answers no utterance."""
    r: m.AgentReplied = replied.record
    if not r.utterance_id:
        return None
    speech = by.synthesized.get(r.reply_id)
    play = by.started.get(r.reply_id)
    heard = by.captured.get(answered_utterance(r.utterance_id))
    text = by.final.get(r.utterance_id)
    stt_from, stt_to, stt_fact = heard, text, text
    if r.utterance_id in by.early_cause:  # the STT that started it is the pause's partial
        stt_from, stt_fact = by.early_cause[r.utterance_id]
        stt_to = stt_fact
    latency = {
        "stt": ms_between(_logged(stt_to), _logged(stt_from)),
        "dialog": ms_between(logged_at(replied), _logged(text)),
        "tts": ms_between(_logged(speech), logged_at(replied)),
        "playout": ms_between(_logged(play), _logged(speech)),
        "voice_to_voice": ms_between(
            play.record.occurred_at if play is not None else None,
            heard.record.occurred_at if heard is not None else None,
        ),
    }
    engine = {
        "stt": stt_fact.record.latency_ms if stt_fact is not None else None,
        "dialog": r.latency_ms,
        "tts": speech.record.latency_ms if speech is not None else None,
    }
    return AnswerStages(latency, engine)


def stages_line(stages: AnswerStages) -> str:
    """``stt 312 ms (engine 280)  dialog 4 ms (engine 1)  …  voice-to-voice 1210 ms``"""

    def show(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f} ms"

    parts = []
    for stage in STAGES:
        engine = stages.engine_ms.get(stage)
        extra = f" (engine {engine:.0f})" if engine is not None else ""
        parts.append(f"{stage} {show(stages.latency_ms[stage])}{extra}")
    parts.append(f"voice-to-voice {show(stages.latency_ms['voice_to_voice'])}")
    return "  ".join(parts)
