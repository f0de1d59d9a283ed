"""The alarm's pure fold (examples.quality_alert.QualityAlarm): fires once when the window falls below
a threshold, stays quiet while it stays there, resolves once when both are back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from examples.quality_alert import QualityAlarm, Thresholds
from schemas import models as m

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def cdr(n: int, minute: float, disposition: str = "answered", mos: float | None = 4.0) -> m.CallDetailRecord:
    return m.CallDetailRecord(
        call_id=f"call-{n}", disposition=disposition, mos=mos, finished_at=T0 + timedelta(minutes=minute)
    )


def statuses(alarm: QualityAlarm, records: list[m.CallDetailRecord]) -> list[str]:
    return [n["status"] for r in records if (n := alarm.observe(r)) is not None]


def test_fires_once_while_the_ratio_stays_low_and_resolves_once() -> None:
    alarm = QualityAlarm(Thresholds(window=timedelta(minutes=5), min_asr=0.5, min_mos=3.5, min_calls=3))
    good = [cdr(i, i * 0.5) for i in range(6)]
    bad = [cdr(10 + i, 20 + i * 0.5, "rejected", None) for i in range(8)]
    better = [cdr(30 + i, 40 + i * 0.5) for i in range(6)]
    assert statuses(alarm, good) == []
    assert statuses(alarm, bad) == ["firing"]
    assert alarm.firing
    assert statuses(alarm, better) == ["resolved"]


def test_a_low_mos_fires_too_and_says_its_numbers() -> None:
    alarm = QualityAlarm(Thresholds(min_mos=3.5, min_calls=2))
    notices = [alarm.observe(cdr(i, i, mos=2.9)) for i in range(3)]
    fired = [n for n in notices if n is not None]
    assert len(fired) == 1
    assert fired[0]["status"] == "firing" and fired[0]["asr"] == 1.0 and fired[0]["mos"] == 2.9


def test_partial_records_duplicates_and_stale_records_change_nothing() -> None:
    alarm = QualityAlarm(Thresholds(window=timedelta(minutes=5), min_calls=3))
    assert alarm.observe(m.CallDetailRecord(call_id="running", disposition="in-progress")) is None
    for i in range(3):
        alarm.observe(cdr(i, 30 + i))
    # the same bad call three times is one call: 1 of 4 failed, ASR 0.75, no alarm
    assert statuses(alarm, [cdr(9, 33, "failed", None)] * 3) == []
    # failed calls from an hour ago arrive late (another partition): outside the window, dropped
    assert statuses(alarm, [cdr(20 + i, -30, "failed", None) for i in range(5)]) == []
    assert not alarm.firing


def test_a_window_with_too_few_calls_says_nothing() -> None:
    alarm = QualityAlarm(Thresholds(min_calls=3))
    assert statuses(alarm, [cdr(1, 0, "failed", None), cdr(2, 1, "failed", None)]) == []
