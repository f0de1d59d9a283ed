"""Response models, derived from the row dataclasses so the OpenAPI schema follows the tables."""

from __future__ import annotations

import typing
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, create_model

from projections import queries
from projections.cdr import CallRow, DtmfRow, PlaybackRow, TurnRow


def _model(name: str, row_type: type[Any], names: tuple[str, ...], **extra: Any) -> type[BaseModel]:
    hints = typing.get_type_hints(row_type)
    fields: dict[str, Any] = {n: (hints[n], ...) for n in names}
    fields.update(extra)
    return create_model(name, **fields)


CallSummary = _model("CallSummary", CallRow, queries.SUMMARY_COLUMNS)
TranscriptTurn = _model("TranscriptTurn", TurnRow, queries.TURN_COLUMNS)
Playback = _model("Playback", PlaybackRow, queries.PLAYBACK_COLUMNS)
Dtmf = _model("Dtmf", DtmfRow, queries.DTMF_COLUMNS)
CallDetail = _model(
    "CallDetail",
    CallRow,
    queries.CALL_COLUMNS,
    transcript=(list[TranscriptTurn], ...),  # type: ignore[valid-type]  # models made by create_model
    playbacks=(list[Playback], ...),  # type: ignore[valid-type]  # models made by create_model
    dtmf=(list[Dtmf], ...),  # type: ignore[valid-type]  # models made by create_model
)


class CallPage(BaseModel):
    items: list[CallSummary]  # type: ignore[valid-type]  # a model made by create_model
    next_cursor: str | None


class Quantiles(BaseModel):
    p50: float | None
    p95: float | None
    p99: float | None


class MosStats(Quantiles):
    mean: float | None
    bands: dict[str, int]


class Stats(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    active_calls: int
    calls_offered: int
    calls_answered: int
    calls_per_minute: float
    asr: float | None
    acd_ms: float | None
    dispositions: dict[str, int]
    pdd_ms: Quantiles
    stt_ms: Quantiles
    dialog_ms: Quantiles
    tts_ms: Quantiles
    voice_to_voice_ms: Quantiles
    mos: MosStats
    analytics_windows: list[dict[str, Any]]

    model_config = {"populate_by_name": True}


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


class Health(BaseModel):
    status: str
    database: bool
    broker: bool
