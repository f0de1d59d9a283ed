"""The greeting watchdog: an answered agent call that stays silent gets the edge's own prompt."""

from __future__ import annotations

from typing import Any

from edge.prompts import BUSY_PROMPT, busy_prompt
from edge.uas.fallback import Degrade, GreetingWatchdog, HangUp, PlayFallback
from schemas import models as m
from streams.dialog.script import CallScript


def answered(
    w: GreetingWatchdog,
    s: CallScript,
    *,
    action: str = "agent",
    transport: str = "udp",
    language: str = "en-US",
) -> None:
    w.observe(s.fact(m.CallInviteReceived, transport=transport), 0.0)
    w.observe(s.fact(m.DialplanResolved, action=action, language=language), 0.0)
    w.observe(s.fact(m.CallAnswered), 0.0)


def only(actions: list[Any], kind: type) -> Any:
    (action,) = actions
    assert isinstance(action, kind)
    return action


def test_a_greeting_in_time_disarms_the_watchdog() -> None:
    w, s = GreetingWatchdog(timeout_s=4.0), CallScript()
    answered(w, s)
    assert w.observe(s.fact(m.CallEstablished), 0.1) == []
    assert w.observe(s.fact(m.PlaybackStarted), 1.5) == []
    assert w.due(100.0) == []


def test_silence_past_the_timeout_degrades_plays_and_hangs_up() -> None:
    w, s = GreetingWatchdog(timeout_s=4.0, hangup_after_s=8.0), CallScript()
    answered(w, s)
    w.observe(s.fact(m.CallEstablished), 0.1)
    assert w.due(3.9) == []
    degrade = only(w.due(4.0), Degrade)
    assert (degrade.call_id, degrade.reason, degrade.waited_ms) == (s.call_id, "no_greeting", 4000.0)
    assert w.due(5.0) == []  # once
    # the adapter records CallDegraded; seeing it, the watchdog asks for the prompt
    play = only(w.observe(s.fact(m.CallDegraded, waited_ms=4000.0), 4.01), PlayFallback)
    assert w.observe(s.fact(m.PlaybackStarted, playback_id=play.playback_id), 4.1) == []  # ours
    finished = s.fact(m.PlaybackFinished, playback_id=play.playback_id)
    assert only(w.observe(finished, 7.6), HangUp).call_id == s.call_id
    assert w.due(100.0) == []


def test_the_hang_up_comes_even_when_the_prompt_never_finishes() -> None:
    w, s = GreetingWatchdog(timeout_s=4.0, hangup_after_s=8.0), CallScript()
    answered(w, s)
    w.observe(s.fact(m.CallEstablished), 0.1)
    w.due(4.0)
    only(w.observe(s.fact(m.CallDegraded), 4.0), PlayFallback)
    assert w.due(11.9) == []
    only(w.due(12.0), HangUp)


def test_a_busy_call_plays_once_it_is_established() -> None:
    w, s = GreetingWatchdog(), CallScript()
    answered(w, s)
    assert w.observe(s.fact(m.CallDegraded, reason="no_worker", action="busy_prompt"), 0.0) == []
    only(w.observe(s.fact(m.CallEstablished), 0.05), PlayFallback)  # media to a proven caller only
    assert w.due(4.5) == []  # no second degradation by the greeting deadline


def test_calls_not_for_the_agent_and_web_calls_are_not_watched() -> None:
    w = GreetingWatchdog()
    answered(w, CallScript(call_id="ivr"), action="prompt_hangup")
    answered(w, CallScript(call_id="web"), transport="ws")
    assert w.due(100.0) == []


def test_a_call_ended_before_its_greeting_is_forgotten() -> None:
    w, s = GreetingWatchdog(), CallScript()
    answered(w, s)
    w.observe(s.fact(m.CallEnded), 1.0)
    assert w.due(100.0) == [] and w.calls == {}


def test_no_watchdog_with_a_zero_timeout() -> None:
    w, s = GreetingWatchdog(timeout_s=0.0), CallScript()
    answered(w, s)
    w.observe(s.fact(m.CallEstablished), 0.1)
    assert w.due(100.0) == []


def test_the_prompt_is_said_in_the_call_language() -> None:
    w, s = GreetingWatchdog(timeout_s=4.0), CallScript()
    answered(w, s, language="tr-TR")
    w.observe(s.fact(m.CallEstablished), 0.1)
    only(w.due(4.0), Degrade)
    play = only(w.observe(s.fact(m.CallDegraded), 4.01), PlayFallback)
    assert play.language == "tr-TR" and busy_prompt(play.language).name == "busy_tr.wav"
    assert busy_prompt(play.language).is_file()
    for other in ("en-US", "de-DE", "auto", None, ""):  # no recording in that language: English
        assert busy_prompt(other) == BUSY_PROMPT
