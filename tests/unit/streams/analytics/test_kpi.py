from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas import models as m
from streams.analytics.kpi import KpiWindows, Measurement, measure, percentile
from streams.dialog.script import CallScript

T0 = datetime(2026, 1, 2, 3, 4, 0, tzinfo=UTC)  # a window boundary


def at(fact: Any, seconds: float) -> Any:
    return type(fact)(**{**fact.to_record(), "occurred_at": T0 + timedelta(seconds=seconds)})


def test_one_window_of_calls_and_speech() -> None:
    s = CallScript()
    facts = [
        at(s.fact(m.CallInviteReceived), 1),
        at(s.fact(m.CallAnswered), 2),
        at(s.fact(m.CallInviteReceived), 3),
        at(s.fact(m.CallRejected), 3.5),
        at(s.fact(m.UtteranceCaptured, utterance_id="u1"), 10),
        at(s.fact(m.UtteranceTranscribed, utterance_id="u1", latency_ms=400.0), 10.4),
        at(s.fact(m.AgentReplied, reply_id="u1:reply", utterance_id="u1", latency_ms=2.0), 10.5),
        at(s.fact(m.SpeechSynthesized, reply_id="u1:reply", latency_ms=30.0), 10.6),
        at(s.fact(m.PlaybackStarted, playback_id="u1:reply"), 10.7),
        at(s.fact(m.PlaybackStarted, playback_id="call-1:say:1"), 11),  # a prompt: no v2v
        at(s.fact(m.AgentReplied, reply_id="call-1:say:9", utterance_id=None, latency_ms=0.0), 11),
        at(s.fact(m.CallEnded, talk_ms=30_000, setup_ms=120.0), 40),
    ]
    windows = KpiWindows(window_s=60, grace_s=10)
    for f in facts:
        for x in measure(f):
            windows.observe(Measurement.parse(bytes(x)))
    start = T0.timestamp()
    assert windows.close(start + 69) == []  # grace not over
    own, r = windows.close(start + 70)  # the default tenant's window, then the platform's
    assert (own.tenant, r.tenant) == ("default", "*")
    assert own.to_record() | {"event_id": None, "tenant": "*"} == r.to_record() | {"event_id": None}
    assert own.event_id != r.event_id
    assert (r.window_start, r.window_end) == (T0, T0 + timedelta(seconds=60))
    assert (r.calls_offered, r.calls_answered, r.calls_rejected, r.calls_ended) == (2, 1, 1, 1)
    assert r.asr == 0.5 and r.acd_ms == 30_000 and r.pdd_ms_p50 == 120.0
    assert (r.stt_ms_p50, r.dialog_ms_p50, r.tts_ms_p50) == (400.0, 2.0, 30.0)
    assert r.v2v_ms_p50 == pytest.approx(700.0)
    # A measurement for a closed window is late and dropped.
    windows.observe(Measurement("offered", start + 5))
    assert windows.late == 1 and windows.close(start + 1000) == []


def test_empty_window_values_are_none() -> None:
    windows = KpiWindows(window_s=60, grace_s=0)
    windows.observe(Measurement("offered", T0.timestamp()))
    _, r = windows.close(T0.timestamp() + 60)
    assert r.asr == 0.0 and r.acd_ms is None and r.v2v_ms_p95 is None


def test_percentile_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 95) == 95.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_bad_measurement_bytes() -> None:
    with pytest.raises(ValueError, match=r"^invalid measurement: "):
        Measurement.parse(b"[1]")


def test_a_joined_turn_is_heard_not_transcribed() -> None:
    """The dialog's joined transcript costs no STT time; the reply to it is measured from it."""
    s = CallScript()
    joined = s.fact(m.UtteranceTranscribed, utterance_id="call-1:turn:9", text="My order number is 456.",
                    engine="turn", latency_ms=0.0, source="dialog")  # fmt: skip
    assert measure(joined) == [
        Measurement("heard", joined.occurred_at.timestamp(), key="call-1:turn:9:reply")
    ]


def test_windows_per_tenant_and_for_the_platform() -> None:
    """One report per tenant seen in the window, with only its calls, and one for every call (`*`)."""
    s = CallScript()
    facts = [
        at(s.fact(m.CallInviteReceived, tenant="acme"), 1),
        at(s.fact(m.CallAnswered, tenant="acme"), 2),
        at(s.fact(m.CallEnded, tenant="acme", talk_ms=10_000, setup_ms=100.0), 20),
        at(s.fact(m.CallInviteReceived, tenant="ornek"), 3),
        at(s.fact(m.CallRejected, tenant="ornek"), 3.5),
        at(s.fact(m.CallInviteReceived, tenant="ornek"), 4),
        at(s.fact(m.CallAnswered, tenant="ornek"), 5),
        at(s.fact(m.CallEnded, tenant="ornek", talk_ms=30_000, setup_ms=300.0), 30),
        at(s.fact(m.UtteranceCaptured, tenant="ornek", utterance_id="u1"), 10),
        at(s.fact(m.PlaybackStarted, tenant="ornek", playback_id="u1:reply"), 11),
    ]
    windows = KpiWindows(window_s=60, grace_s=0)
    for f in facts:
        for x in measure(f):
            windows.observe(Measurement.parse(bytes(x)))
    acme, ornek, platform = windows.close(T0.timestamp() + 60)
    assert [r.tenant for r in (acme, ornek, platform)] == ["acme", "ornek", "*"]
    assert (acme.calls_offered, acme.calls_answered, acme.calls_rejected, acme.asr) == (1, 1, 0, 1.0)
    assert (acme.acd_ms, acme.pdd_ms_p50, acme.v2v_ms_p50) == (10_000, 100.0, None)
    assert (ornek.calls_offered, ornek.calls_answered, ornek.calls_rejected, ornek.asr) == (2, 1, 1, 0.5)
    assert (ornek.acd_ms, ornek.pdd_ms_p50, ornek.v2v_ms_p50) == (30_000, 300.0, pytest.approx(1000.0))
    assert (platform.calls_offered, platform.calls_answered, platform.calls_ended) == (3, 2, 2)
    assert platform.acd_ms == 20_000 and platform.v2v_ms_p50 == pytest.approx(1000.0)
    assert len({acme.event_id, ornek.event_id, platform.event_id}) == 3
    assert windows.close(T0.timestamp() + 1000) == []


def test_a_measurement_keeps_its_tenant_on_the_wire() -> None:
    x = Measurement("offered", 1.5, tenant="acme")
    assert Measurement.parse(bytes(x)) == x
    assert Measurement.parse(b'["offered", 1.5, null, null]').tenant == "default"  # written before tenants
    with pytest.raises(ValueError, match=r"^invalid measurement: "):
        Measurement.parse(b'["offered", 1.5, null, null, 7]')


def test_an_early_answer_is_timed_from_the_utterance_it_answers_and_costs_no_stt() -> None:
    """The dialog's early turn (words up to the caller's pause) is no STT work of its own, and its
    reply's playback pairs with the capture of the utterance it answers (voice-to-voice)."""
    s = CallScript()
    early = s.fact(m.UtteranceTranscribed, utterance_id="u1:early:7", text="Opening hours?", engine="partial",
                   latency_ms=0.0, source="dialog")  # fmt: skip
    partial = s.fact(m.UtteranceTranscribed, utterance_id="u1", text="Opening", is_final=False, pause=True)
    assert measure(early) == [] and measure(partial) == []
    captured = s.fact(m.UtteranceCaptured, utterance_id="u1")
    started = s.fact(m.PlaybackStarted, playback_id="u1:early:7:reply")
    [heard], [spoke] = measure(captured), measure(started)
    assert heard.key == spoke.key == "u1:reply"
