"""Example (b): a webhook alert when the answer-seizure ratio or the MOS of the last N minutes falls
below a threshold, from the call detail records on `sentiric.cdr`.

The window is the last `ALERT_WINDOW_MIN` minutes of event time (the newest `finished_at` seen, not the
clock), so a replay gives the alerts it gave live. ASR is answered (or transferred) calls over finished
calls; MOS the mean of the calls' final MOS. The alarm fires once (`{"status": "firing", ...}` POSTed
to `ALERT_WEBHOOK_URL`, with `Authorization: Bearer $ALERT_WEBHOOK_TOKEN` when set) and not again until
both are back at or above their thresholds, which posts `{"status": "resolved", ...}` once. A window
with fewer than `ALERT_MIN_CALLS` calls says nothing. Records of one call that arrive twice (the CDR
topic is at least once) replace each other: a call counts once.

Ordering: one call's records are in order, calls on different partitions are not. A record older than
the window when it arrives is dropped, so a partition read late cannot raise a stale alarm.

Offsets are committed (no `replay`): a restart goes on from where the last run stopped rather than
posting the history's alerts again. The window and the alarm state are in memory, so a restarted
processor says nothing until `ALERT_MIN_CALLS` new calls have finished, and if quality is still low
then, it fires once more.

    ALERT_WEBHOOK_URL=http://127.0.0.1:9000/hook sentiric processor run examples.quality_alert:alert
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import faust
import httpx
import structlog

from schemas import models as m
from sentiric import processors

log = structlog.get_logger("examples.quality_alert")
ANSWERED: Final = frozenset({"answered", "transferred"})
POST_ATTEMPTS: Final = 3


@dataclass(frozen=True, slots=True)
class Thresholds:
    window: timedelta = timedelta(minutes=5)
    min_asr: float = 0.5
    min_mos: float = 3.5
    min_calls: int = 3


@dataclass(frozen=True, slots=True)
class _Call:
    finished_at: datetime
    answered: bool
    mos: float | None


class QualityAlarm:
    """The pure part: CDRs in, at most one notice per change of state out."""

    def __init__(self, limits: Thresholds) -> None:
        self.limits = limits
        self.firing = False
        self._calls: dict[str, _Call] = {}
        self._now: datetime | None = None

    def observe(self, cdr: m.CallDetailRecord) -> dict[str, Any] | None:
        if cdr.finished_at is None:
            return None  # a partial record: the call runs
        self._calls[cdr.call_id] = _Call(cdr.finished_at, cdr.disposition in ANSWERED, cdr.mos)
        self._now = max(self._now or cdr.finished_at, cdr.finished_at)
        since = self._now - self.limits.window
        self._calls = {k: c for k, c in self._calls.items() if c.finished_at > since}
        if len(self._calls) < self.limits.min_calls:
            return None
        asr = sum(c.answered for c in self._calls.values()) / len(self._calls)
        scores = [c.mos for c in self._calls.values() if c.mos is not None]
        mos = sum(scores) / len(scores) if scores else None
        bad = asr < self.limits.min_asr or (mos is not None and mos < self.limits.min_mos)
        if bad == self.firing:
            return None
        self.firing = bad
        return {
            "status": "firing" if bad else "resolved",
            "asr": asr,
            "mos": mos,
            "calls": len(self._calls),
            "window_end": self._now.isoformat(),
            "window_minutes": self.limits.window.total_seconds() / 60,
            "min_asr": self.limits.min_asr,
            "min_mos": self.limits.min_mos,
        }


def thresholds_from_env() -> Thresholds:
    env = os.environ
    return Thresholds(
        window=timedelta(minutes=float(env.get("ALERT_WINDOW_MIN", "5"))),
        min_asr=float(env.get("ALERT_MIN_ASR", "0.5")),
        min_mos=float(env.get("ALERT_MIN_MOS", "3.5")),
        min_calls=int(env.get("ALERT_MIN_CALLS", "3")),
    )


async def post(client: httpx.AsyncClient, url: str, notice: dict[str, Any]) -> None:
    """POST the notice, a few tries; a webhook that stays down is logged, never the processor's end."""
    token = os.environ.get("ALERT_WEBHOOK_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for attempt in range(1, POST_ATTEMPTS + 1):
        try:
            (await client.post(url, json=notice, headers=headers)).raise_for_status()
            return
        except httpx.HTTPError as exc:
            log.warning("alert webhook failed", attempt=attempt, error=str(exc))
            await asyncio.sleep(attempt)
    log.error("alert not delivered", **notice)


APP_ID: Final = os.environ.get("ALERT_APP", "example-quality-alert")
app = processors.create_app(APP_ID)
cdrs = processors.cdr_topic(app)
alarm = QualityAlarm(thresholds_from_env())


@app.agent(cdrs)
async def alert(stream: faust.StreamT[bytes]) -> None:
    proc = processors.Processor(app, APP_ID)
    url = os.environ["ALERT_WEBHOOK_URL"]  # no URL: the agent stops at once with a KeyError in the log
    async with httpx.AsyncClient(timeout=10.0) as client:
        async for cdr in proc.records(stream, m.CallDetailRecord):
            with proc.guard():
                notice = alarm.observe(cdr)
                if notice is not None:
                    log.info("quality alert", **notice)
                    await post(client, url, notice)
