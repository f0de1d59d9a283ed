"""The pure CDR fold: every disposition, any order, duplicates ignored."""

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from projections.cdr import DISPOSITIONS, CallRow, LogPosition, Projection, fold_call, turn_key
from projections.synthetic import SCENARIOS, day_of_calls
from schemas import models as m
from streams.dialog.script import CallScript

CALLS = day_of_calls(len(SCENARIOS) * 3, seed=11)


def project(facts, positions=None) -> Projection:
    p = Projection()
    for i, fact in enumerate(facts):
        p.apply(fact, positions[i] if positions else LogPosition("calls", 0, i))
    return p


def snapshot(p: Projection):
    return (
        p.calls,
        p.turns,
        p.playbacks,
        {k: v for k, v in p.dtmf.items()},
    )


@pytest.mark.parametrize("call", CALLS, ids=[c.scenario + "-" + c.call_id[:4] for c in CALLS])
def test_every_scenario_gives_its_disposition_and_rows(call):
    p = project(call.facts)
    row = p.calls[call.call_id]
    assert row.disposition == call.disposition
    assert row.event_count == len(call.facts)
    assert (row.first_offset, row.last_offset) == (0, len(call.facts) - 1)
    invite = call.facts[0]
    assert (row.caller, row.callee, row.sip_call_id) == (invite.caller, invite.callee, invite.sip_call_id)
    assert row.invite_at == invite.occurred_at
    assert sum(1 for k in p.turns if k[0] == call.call_id and p.turns[k].speaker == "caller") == call.turns
    assert "".join(d.digit for d in sorted(p.dtmf.values(), key=lambda d: d.seq)) == call.digits
    if call.disposition in ("answered", "transferred"):
        ended = next(f for f in call.facts if isinstance(f, m.CallEnded))
        final_quality = next(f for f in call.facts if isinstance(f, m.MediaQualityReported) and f.final)
        assert row.duration_ms == ended.talk_ms
        assert row.pdd_ms == ended.setup_ms
        assert row.mos == final_quality.mos
        assert row.recording_uri.startswith("file://")
        assert row.finished_at == ended.occurred_at


def test_all_dispositions_are_covered():
    assert {c.disposition for c in CALLS} == set(DISPOSITIONS)


@pytest.mark.parametrize("seed", range(5))
def test_any_order_gives_the_same_rows(seed):
    facts = [f for c in CALLS for f in c.facts]
    positions = [LogPosition("calls", 0, i) for i in range(len(facts))]
    ordered = project(facts, positions)
    pairs = list(zip(facts, positions, strict=True))
    random.Random(seed).shuffle(pairs)
    shuffled = project([f for f, _ in pairs], [p for _, p in pairs])
    assert snapshot(shuffled) == snapshot(ordered)


def test_duplicates_are_ignored():
    call = next(c for c in CALLS if c.disposition == "answered")
    once = project(call.facts)
    twice = Projection()
    for i, fact in enumerate(call.facts):
        assert twice.apply(fact, LogPosition("calls", 0, i))
        assert not twice.apply(fact, LogPosition("calls", 0, i + 1000))
    assert snapshot(twice) == snapshot(once)
    assert twice.duplicates == len(call.facts)
    assert len(twice.new_events) == len(call.facts)


def test_events_already_applied_in_an_earlier_batch_are_skipped():
    call = CALLS[0]
    p = Projection(seen={f.event_id for f in call.facts})
    assert not any(p.apply(f) for f in call.facts)
    assert p.changed_calls() == []


def test_pdd_falls_back_to_timestamps_and_rejects():
    call = next(c for c in CALLS if c.disposition == "rejected")
    p = project(call.facts)
    row = p.calls[call.call_id]
    assert row.pdd_ms == (call.facts[-1].occurred_at - call.facts[0].occurred_at).total_seconds() * 1000


def test_quality_prefers_the_final_report_whatever_the_order():
    call = next(c for c in CALLS if c.disposition == "answered")
    reports = [f for f in call.facts if isinstance(f, m.MediaQualityReported)]
    late_interim = replace(reports[0], seq=999, mos=1.0)
    row = CallRow(call.call_id)
    for f in (reports[1], late_interim):
        row = fold_call(row, f)
    assert row.mos == reports[1].mos and row.quality_final


@pytest.mark.parametrize(
    ("reason", "status", "expected"),
    [("cancelled", 487, "cancelled"), ("rejected", 403, "rejected"), ("error", 500, "failed"),
     ("media_timeout", 408, "no-answer")],
)  # fmt: skip
def test_unanswered_end_reasons(reason, status, expected):
    invite = CALLS[0].facts[0]
    ended = m.CallEnded(
        event_id=invite.event_id.__class__(int=1), call_id=invite.call_id, seq=2,
        occurred_at=invite.occurred_at + timedelta(seconds=1), source="edge-1", trace_id="t",
        reason=reason, hangup_by="system", sip_status=status, total_ms=1000,
    )  # fmt: skip
    row = fold_call(fold_call(CallRow(invite.call_id), invite), ended)
    assert row.disposition == expected


def test_non_call_records_are_not_projected():
    p = Projection()
    from schemas.samples import sample

    assert not p.apply(sample(m.Dialplan))
    assert p.apply(sample(m.KpiWindowReported))
    assert len(p.kpi_windows) == 1


def test_a_degraded_call_records_its_first_reason():
    from schemas.samples import sample

    row = CallRow("call-d")
    first = replace(sample(m.CallDegraded, "call-d"), reason="no_worker")
    later = replace(sample(m.CallDegraded, "call-d", 2), reason="no_greeting")
    for f in (first, later):
        row = fold_call(row, f)
    assert row.degraded_reason == "no_worker"
    assert CallRow("call-e").degraded_reason is None


def test_a_streamed_reply_is_one_turn_with_its_whole_text_and_first_audio_in_any_order():
    from streams.dialog.script import CallScript

    s = CallScript("streamed-call")
    reply = {"reply_id": "u1:reply", "utterance_id": "u1"}
    facts = [
        s.fact(m.AgentReplied, **reply, text="We open at nine.", final=False, part=0),
        s.fact(m.SpeechSynthesized, reply_id="u1:reply", text="We open at nine.", part=0, last=False,
               latency_ms=40.0),
        s.fact(m.AgentReplied, **reply, text="We open at nine. We close at six.", part=1,
               rest="We close at six.", latency_ms=900.0),
        s.fact(m.SpeechSynthesized, reply_id="u1:reply", text="We close at six.", part=1, last=True,
               latency_ms=35.0),
    ]  # fmt: skip
    for seed in range(6):
        shuffled = facts[:]
        random.Random(seed).shuffle(shuffled)
        (turn,) = project(shuffled).turns.values()
        assert turn.text == "We open at nine. We close at six." and turn.dialog_latency_ms == 900.0
        assert turn.synthesized_at == facts[1].occurred_at and turn.tts_latency_ms == 40.0


def test_the_dialogs_early_turn_is_not_a_transcript_turn_of_its_own() -> None:
    """The caller's turn is the utterance an early answer was taken from (capture and final
    transcript); the dialog's early turn only carries the answer."""
    s = CallScript()
    early = s.fact(
        m.UtteranceTranscribed, utterance_id="u1:early:3", text="Hours?", engine="partial", source="dialog"
    )
    assert turn_key(early) is None
    assert turn_key(s.fact(m.UtteranceTranscribed, utterance_id="u1", text="Hours?")) == "u1"
