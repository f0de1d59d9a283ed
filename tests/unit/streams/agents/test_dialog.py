"""The dialog agent's adapter step: bytes in, table value and messages out (no Faust needed)."""

from __future__ import annotations

import pytest

from schemas import models as m
from schemas.codec import decode, encode
from sentiric.eventlog.topics import CALLS, commands_topic
from streams.agents.dialog import Stored, due_timers, step, timer_source
from streams.dialog.machine import DEFAULT_POLICY, derived_event_id
from streams.dialog.script import CallScript
from streams.dialog.state import Phase, StateError
from streams.skip import ended_at, is_ended

KEY = b"call-1"
NOW = 1_000_000.0


def _run(script: CallScript, *facts: object, stored: bytes | None = None, now: float = NOW) -> bytes | None:
    for fact in facts:
        out = step(stored, KEY, encode(fact), DEFAULT_POLICY, now)
        if out.changed:
            stored = None if out.stored is None else bytes(out.stored)
    return stored


def test_established_call_greets_and_arms_a_deadline() -> None:
    s = CallScript()
    stored = _run(s, *s.setup())
    out = step(stored, KEY, encode(s.established()), DEFAULT_POLICY, NOW)
    assert out.changed and out.stored is not None
    assert out.stored.state.phase == Phase.GREETING
    assert out.stored.deadline == NOW + DEFAULT_POLICY.no_reply_timeout_s
    kinds = [(topic, type(decode(v)).__name__) for topic, k, v in out.messages]
    assert kinds == [(CALLS, "AgentReplied"), (CALLS, "DialogStateChanged")]
    assert all(k == KEY for _, k, _ in out.messages)


def test_synthesized_audio_becomes_a_command_to_the_owning_edge() -> None:
    s = CallScript(edge="edge-9")
    stored = _run(s, *s.setup(), s.established())
    assert stored is not None
    reply_id = Stored.parse(stored).state.pending_reply
    assert reply_id is not None
    out = step(stored, KEY, encode(s.synthesized(reply_id)), DEFAULT_POLICY, NOW)
    ((topic, _, value),) = out.messages
    assert topic == commands_topic("edge-9")
    assert isinstance(decode(value), m.PlayAudio)
    assert out.stored is not None and out.stored.deadline is None  # the no-reply timer was cancelled


def test_call_end_leaves_an_ended_marker_that_later_facts_do_not_revive() -> None:
    s = CallScript()
    stored = _run(s, *s.setup(), s.established())
    out = step(stored, KEY, encode(s.ended()), DEFAULT_POLICY, NOW)
    assert out.changed and isinstance(out.stored, bytes) and is_ended(out.stored)
    assert ended_at(out.stored) == NOW
    assert [type(decode(v)).__name__ for _, _, v in out.messages] == ["DialogStateChanged"]
    # a redelivered CallEstablished after the end greets nobody, and the marker stays
    late = step(out.stored, KEY, encode(s.established()), DEFAULT_POLICY, NOW + 1)
    assert not late.changed and late.messages == []
    assert list(due_timers(iter([(KEY, out.stored)]), NOW + 3600, DEFAULT_POLICY)) == []


def test_a_call_routed_away_from_the_agent_is_dropped_without_a_marker() -> None:
    s = CallScript()
    stored = _run(s, *s.setup(action="transfer"))
    out = step(stored, KEY, encode(s.established()), DEFAULT_POLICY, NOW)
    assert out.changed and out.stored is None


@pytest.mark.parametrize("value", [b"", b"garbage", b"\xc3\x01" + bytes(8)])
def test_undecodable_messages_change_nothing(value: bytes) -> None:
    out = step(None, KEY, value, DEFAULT_POLICY, NOW)
    assert not out.changed and out.messages == []


def test_commands_and_illegal_facts_change_nothing() -> None:
    s = CallScript()
    stored = _run(s, *s.setup(), s.established())
    envelope = ("event_id", "call_id", "seq", "occurred_at", "source", "trace_id")
    hangup = m.Hangup(**{f: getattr(s.ended(), f) for f in envelope})
    assert not step(stored, KEY, encode(hangup), DEFAULT_POLICY, NOW).changed
    assert not step(stored, KEY, encode(s.established()), DEFAULT_POLICY, NOW).changed  # illegal twice


def test_unreadable_stored_state_starts_afresh() -> None:
    s = CallScript()
    out = step(b"not json", KEY, encode(s.fact(m.CallInviteReceived)), DEFAULT_POLICY, NOW)
    assert out.stored is not None and out.stored.state.phase == Phase.SETUP
    with pytest.raises(StateError):
        Stored.parse(b"{}")


def test_due_timer_fires_once_the_deadline_passes_and_drives_the_reprompt() -> None:
    s = CallScript()
    stored = _run(s, *s.setup(), s.established())
    assert stored is not None
    reply_id = Stored.parse(stored).state.pending_reply
    assert reply_id is not None
    stored = _run(s, s.synthesized(reply_id), *s.played(reply_id), stored=stored)
    assert stored is not None
    state = Stored.parse(stored).state
    assert state.phase == Phase.LISTENING and state.timer is not None
    assert list(due_timers(iter([(KEY, stored)]), NOW + 1, DEFAULT_POLICY)) == []
    ((key, event_id, value),) = due_timers(iter([(KEY, stored)]), NOW + 60, DEFAULT_POLICY)
    fired = decode(value)
    assert key == KEY and isinstance(fired, m.DialogTimerFired)
    assert (fired.timer, fired.armed_seq) == ("no_input", state.timer.armed_seq)
    assert fired.source == timer_source(DEFAULT_POLICY) and fired.event_id == event_id
    assert event_id == derived_event_id("call-1", fired.source, fired.armed_seq)
    out = step(stored, KEY, value, DEFAULT_POLICY, NOW + 60)
    said = [decode(v) for _, _, v in out.messages if isinstance(decode(v), m.AgentReplied)]
    assert said[0].text == DEFAULT_POLICY.reprompt
    # The same timer fired again (a restart) is one fact to the reducer.
    assert out.stored is not None
    assert not step(bytes(out.stored), KEY, value, DEFAULT_POLICY, NOW + 61).changed


def test_due_timers_skip_unreadable_entries() -> None:
    assert list(due_timers(iter([(KEY, b"junk")]), NOW, DEFAULT_POLICY)) == []
