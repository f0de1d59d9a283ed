"""Dialplan prompt_hangup: the pure watcher (facts in, actions out) and what a plan's prompt resolves to."""

from __future__ import annotations

from types import SimpleNamespace

from edge.uas.prompt_hangup import DEFAULT_TEXT, EndCall, PlayPrompt, PromptHangupWatcher, resolve_prompt
from schemas import models as m
from streams.dialog.script import CallScript


def test_established_plays_then_finished_hangs_up() -> None:
    w, s = PromptHangupWatcher(max_prompt_s=30.0), CallScript()
    assert w.observe(s.fact(m.DialplanResolved, action="prompt_hangup", prompt_uri="prompt:x"), 0.0) == []
    assert w.observe(s.fact(m.CallAnswered), 0.0) == []
    (play,) = w.observe(s.fact(m.CallEstablished), 0.1)
    assert isinstance(play, PlayPrompt) and play.prompt_uri == "prompt:x" and play.call_id == s.call_id
    assert w.observe(s.fact(m.CallEstablished), 0.2) == []  # once
    assert w.observe(s.fact(m.PlaybackFinished, playback_id="someone-else"), 1.0) == []
    (end,) = w.observe(s.fact(m.PlaybackFinished, playback_id=play.playback_id), 3.0)
    assert end == EndCall(s.call_id, "prompt_played")
    assert w.due(100.0) == []


def test_a_prompt_that_never_ends_still_ends_the_call() -> None:
    w, s = PromptHangupWatcher(max_prompt_s=30.0), CallScript()
    w.observe(s.fact(m.DialplanResolved, action="prompt_hangup"), 0.0)
    w.observe(s.fact(m.CallEstablished), 1.0)
    assert w.due(30.9) == []
    assert w.due(31.0) == [EndCall(s.call_id)]
    assert w.due(40.0) == []


def test_agent_calls_and_ended_calls_are_left_alone() -> None:
    w, s = PromptHangupWatcher(), CallScript()
    w.observe(s.fact(m.DialplanResolved, action="agent"), 0.0)
    assert w.observe(s.fact(m.CallEstablished), 0.1) == []
    t = CallScript()
    w.observe(t.fact(m.DialplanResolved, action="prompt_hangup"), 0.0)
    w.observe(t.fact(m.CallEnded), 0.1)  # the caller hung up before the ACK
    assert w.calls == {}


def test_resolve_prompt() -> None:
    prompts = {
        "closed": SimpleNamespace(uri=None, text="We are closed."),
        "wav": SimpleNamespace(uri="file:///p/closed.wav", text="ignored"),
    }
    assert resolve_prompt("prompt:closed", prompts.get).text == "We are closed."
    assert resolve_prompt("closed", prompts.get).text == "We are closed."
    assert resolve_prompt("prompt:wav", prompts.get).audio_uri == "file:///p/closed.wav"
    assert resolve_prompt("file:///x.wav", prompts.get).audio_uri == "file:///x.wav"
    assert resolve_prompt("prompt:missing", prompts.get).text == DEFAULT_TEXT
    assert resolve_prompt(None, prompts.get).text == DEFAULT_TEXT


def test_a_prompt_of_another_tenant_is_not_said() -> None:
    prompts = {"closed": SimpleNamespace(uri=None, text="B is closed.", tenant="b")}
    assert resolve_prompt("prompt:closed", prompts.get, "b").text == "B is closed."
    assert resolve_prompt("prompt:closed", prompts.get, "a").text == DEFAULT_TEXT
