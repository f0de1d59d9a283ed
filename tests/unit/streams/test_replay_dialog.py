from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from schemas import models as m
from streams.dialog.machine import DEFAULT_POLICY, Policy
from streams.dialog.script import RecordedCall
from streams.replay_dialog import Difference, replay_dialog


def _recorded_call(policy: Policy = DEFAULT_POLICY) -> list[Any]:
    """A call as the log holds it: each input followed by what the machine recorded and sent."""
    call = RecordedCall("call-r", policy)
    s = call.script
    call.feed(*s.setup(), s.established())
    call.play()
    call.feed(
        s.speech("u1"), s.captured("u1"), s.transcribed("u1", "opening hours"), s.replied("u1", "nine to six")
    )
    call.play()
    call.feed(s.dtmf("7"), s.replied(f"call-r:dtmf:{call.log[-1].seq + 1}", "seven"))
    call.feed(s.dtmf("0"))
    call.play()
    call.feed(s.ended())
    return call.log


def test_a_faithful_record_has_no_differences() -> None:
    log = _recorded_call()
    assert sum(isinstance(r, m.Command) for r in log) >= 4
    assert replay_dialog(log) == []


def test_redelivered_duplicates_in_the_log_are_not_differences() -> None:
    log = _recorded_call()
    assert replay_dialog([r for r in log for _ in range(2)]) == []


def test_changed_state_change_and_missing_command() -> None:
    log = _recorded_call()
    i = next(i for i, r in enumerate(log) if isinstance(r, m.DialogStateChanged) and r.to_state == "THINKING")
    log[i] = dataclasses.replace(log[i], to_state="SPEAKING")
    j = next(i for i, r in enumerate(log) if isinstance(r, m.Hangup))
    hangup = log.pop(j)
    diffs = replay_dialog(log)
    assert diffs == [
        Difference(log[i].seq, "changed", "DialogStateChanged", (("to_state", "SPEAKING", "THINKING"),)),
        Difference(hangup.seq, "unexpected", "Hangup"),
    ]
    assert str(diffs[1]) == f"#{hangup.seq} Hangup: made by the re-run, not in the record"


def test_another_policy_shows_what_would_have_been_said() -> None:
    log = _recorded_call()
    diffs = replay_dialog(log, Policy(greeting="Welcome to Harbour Bikes!"))
    changed = {(d.record_type, f[0]) for d in diffs for f in d.fields}
    assert ("AgentReplied", "text") in changed
    assert all(d.kind == "changed" for d in diffs)
    assert "→ 'Welcome to Harbour Bikes!'" in str(diffs[0])


def test_a_record_the_rerun_does_not_make_is_missing() -> None:
    log = _recorded_call()
    extra = dataclasses.replace(
        next(r for r in log if isinstance(r, m.Hangup)), seq=999, event_id=uuid.uuid4()
    )
    assert replay_dialog([*log, extra]) == [Difference(999, "missing", "Hangup")]
