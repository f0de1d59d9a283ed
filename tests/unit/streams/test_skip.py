"""Ended markers: the speech agents' exact test for "this call is over"."""

from __future__ import annotations

from streams.agents.dialog import Stored
from streams.dialog.machine import new_state
from streams.skip import SKIPPED, SkipCounter, ended_at, ended_marker, expired, is_ended


def test_only_an_ended_marker_means_ended() -> None:
    assert is_ended(ended_marker(1000.5))
    assert ended_at(ended_marker(1000.5)) == 1000.5
    assert not is_ended(None)  # not seen yet (the dialog agent may be behind): work on it
    assert not is_ended(bytes(Stored(new_state("call-1"))))  # live


def test_markers_expire_after_keep_s_and_live_states_never_do() -> None:
    live = bytes(Stored(new_state("call-3")))
    entries = [(b"old", ended_marker(100.0)), (b"new", ended_marker(950.0)), (b"live", live)]
    assert expired(entries, now=1000.0, keep_s=600.0) == [b"old"]


def test_skips_are_counted_per_agent_and_in_total() -> None:
    before = SKIPPED.labels("tts")._value.get()
    counter = SkipCounter()
    counter.skip("tts")
    counter.skip("stt")
    assert counter.total == 2
    assert SKIPPED.labels("tts")._value.get() == before + 1
