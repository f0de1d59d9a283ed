"""Telecom KPIs over any time range, from the CDR tables (and the analytics windows for comparison).

Definitions (range = [start, end), by the time of the thing measured):

- offered: calls whose INVITE arrived in the range; answered: those of them answered.
- ASR (answer-seizure ratio) = answered / offered, 0..1.
- ACD (average call duration) = mean talk time of the offered calls that were answered and have ended.
- calls per minute = offered / minutes in the range.
- active calls = calls INVITEd before `end`, not finished at `end`, and INVITEd less than
  `ACTIVE_HORIZON` before it (a call whose end fact never arrived does not stay active forever).
- PDD (post-dial delay) = INVITE → final response (`cdr.derive`), percentiles over offered calls.
- STT latency: caller turns by transcription time; dialog latency: agent replies to an utterance (not
  greetings) by reply time; TTS latency: agent turns by synthesis time — each the engine's own
  `latency_ms` from its fact.
- voice-to-voice = end of the caller's utterance (`UtteranceCaptured.occurred_at`, emitted at the
  VAD endpoint) → start of the playback of its reply (`PlaybackStarted` whose playback_id is the reply
  id); when no PlaybackStarted was recorded (a channel without playback facts), `SpeechSynthesized`
  stands in. By utterance time. The streams' analytics windows use the same pairing.
- MOS: the final (or last) RTCP-derived MOS per answered call; mean, percentiles and a histogram over
  the ITU-T G.107 user-satisfaction bands.
Percentiles are continuous (`percentile_cont`), p50/p95/p99; None when there is nothing to measure.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from projections.cdr import KpiWindowRow, columns
from projections.connection import Connection

ACTIVE_HORIZON: Final = timedelta(hours=12)
PLATFORM_WINDOWS: Final = "*"  # the analytics windows over every tenant's calls
QUANTILES: Final = (0.5, 0.95, 0.99)
MOS_BANDS: Final = ((None, 2.6, "<2.6"), (2.6, 3.1, "2.6-3.1"), (3.1, 3.6, "3.1-3.6"),
                    (3.6, 4.0, "3.6-4.0"), (4.0, 4.3, "4.0-4.3"), (4.3, None, ">=4.3"))  # fmt: skip

_CALLS = """
SELECT count(*) AS offered,
       count(answered_at) AS answered,
       avg(duration_ms) FILTER (WHERE answered_at IS NOT NULL AND finished_at IS NOT NULL) AS acd_ms,
       percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY pdd_ms) AS pdd,
       avg(mos) AS mos_mean,
       percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY mos) AS mos
FROM calls WHERE invite_at >= $1 AND invite_at < $2 AND ($4::text IS NULL OR tenant = $4)
"""
_DISPOSITIONS = """
SELECT disposition, count(*) AS n FROM calls
WHERE invite_at >= $1 AND invite_at < $2 AND ($3::text IS NULL OR tenant = $3)
GROUP BY disposition ORDER BY disposition
"""
_ACTIVE = """
SELECT count(*) FROM calls
WHERE invite_at < $1 AND invite_at >= $2 AND (finished_at IS NULL OR finished_at > $1)
  AND ($3::text IS NULL OR tenant = $3)
"""
_MOS_BANDS = """
SELECT count(*) FILTER (WHERE mos < 2.6) AS b0,
       count(*) FILTER (WHERE mos >= 2.6 AND mos < 3.1) AS b1,
       count(*) FILTER (WHERE mos >= 3.1 AND mos < 3.6) AS b2,
       count(*) FILTER (WHERE mos >= 3.6 AND mos < 4.0) AS b3,
       count(*) FILTER (WHERE mos >= 4.0 AND mos < 4.3) AS b4,
       count(*) FILTER (WHERE mos >= 4.3) AS b5
FROM calls WHERE invite_at >= $1 AND invite_at < $2 AND mos IS NOT NULL AND ($3::text IS NULL OR tenant = $3)
"""
_SPEECH = """
SELECT
  (SELECT percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY stt_latency_ms) FROM transcript_turns
    WHERE speaker = 'caller' AND transcribed_at >= $1 AND transcribed_at < $2
      AND ($4::text IS NULL OR tenant = $4)) AS stt,
  (SELECT percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY dialog_latency_ms) FROM transcript_turns
    WHERE speaker = 'agent' AND utterance_id IS NOT NULL AND replied_at >= $1 AND replied_at < $2
      AND ($4::text IS NULL OR tenant = $4)) AS dialog,
  (SELECT percentile_cont($3::float8[]) WITHIN GROUP (ORDER BY tts_latency_ms) FROM transcript_turns
    WHERE speaker = 'agent' AND synthesized_at >= $1 AND synthesized_at < $2
      AND ($4::text IS NULL OR tenant = $4)) AS tts
"""
_V2V = """
SELECT percentile_cont($3::float8[]) WITHIN GROUP (
         ORDER BY extract(epoch FROM coalesce(p.started_at, a.synthesized_at) - c.captured_at) * 1000.0)
       AS v2v,
       count(*) AS n
FROM transcript_turns a
JOIN transcript_turns c ON c.call_id = a.call_id
  AND c.turn_id = split_part(a.utterance_id, ':early:', 1)  -- an early turn answers its utterance
LEFT JOIN playbacks p ON p.call_id = a.call_id
  AND (p.playback_id = a.turn_id OR p.playback_id = a.turn_id || '#0')  -- a streamed reply's first piece
WHERE a.speaker = 'agent' AND c.captured_at >= $1 AND c.captured_at < $2
  AND ($4::text IS NULL OR a.tenant = $4)
  AND coalesce(p.started_at, a.synthesized_at) IS NOT NULL
"""
_WINDOWS = f"""
SELECT {", ".join(columns(KpiWindowRow))} FROM kpi_windows
WHERE window_start >= $1 AND window_start < $2 AND tenant = $3 ORDER BY window_start, source LIMIT 1440
"""


def _quantiles(values: list[float | None] | None) -> dict[str, float | None]:
    values = values or [None] * len(QUANTILES)
    return {f"p{round(q * 100)}": v for q, v in zip(QUANTILES, values, strict=True)}


async def stats(
    conn: Connection, start: datetime, end: datetime, tenant: str | None = None
) -> dict[str, Any]:
    """The KPIs of one tenant's calls (None: every tenant's) and its analytics windows (None: the
    platform-wide windows, tenant "*")."""
    q = list(QUANTILES)
    calls = await conn.fetchrow(_CALLS, start, end, q, tenant)
    speech = await conn.fetchrow(_SPEECH, start, end, q, tenant)
    v2v = await conn.fetchrow(_V2V, start, end, q, tenant)
    bands = await conn.fetchrow(_MOS_BANDS, start, end, tenant)
    active = await conn.fetchval(_ACTIVE, end, end - ACTIVE_HORIZON, tenant)
    dispositions = {r["disposition"]: r["n"] for r in await conn.fetch(_DISPOSITIONS, start, end, tenant)}
    windows = [
        dict(r)
        for r in await conn.fetch(_WINDOWS, start, end, PLATFORM_WINDOWS if tenant is None else tenant)
    ]
    # aggregates without GROUP BY: always exactly one row
    assert calls is not None and speech is not None and v2v is not None and bands is not None
    minutes = max((end - start).total_seconds() / 60.0, 1e-9)
    offered, answered = calls["offered"], calls["answered"]
    return {
        "from": start,
        "to": end,
        "active_calls": active,
        "calls_offered": offered,
        "calls_answered": answered,
        "calls_per_minute": offered / minutes,
        "asr": answered / offered if offered else None,
        "acd_ms": float(calls["acd_ms"]) if calls["acd_ms"] is not None else None,
        "dispositions": dispositions,
        "pdd_ms": _quantiles(calls["pdd"]),
        "stt_ms": _quantiles(speech["stt"]),
        "dialog_ms": _quantiles(speech["dialog"]),
        "tts_ms": _quantiles(speech["tts"]),
        "voice_to_voice_ms": _quantiles(v2v["v2v"]),
        "mos": {
            "mean": calls["mos_mean"],
            **_quantiles(calls["mos"]),
            "bands": {label: bands[f"b{i}"] for i, (_, _, label) in enumerate(MOS_BANDS)},
        },
        "analytics_windows": windows,
    }
