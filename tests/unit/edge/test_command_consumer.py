"""The command dispatcher's routing of operator commands: text-only PlayAudio to the speaker, and an
operator's MuteAgent making the agent's prompts silent (fakes for the SIP side and the engine)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from edge.command_consumer import CommandDispatcher
from schemas import models as m


class Engine:
    def __init__(self) -> None:
        self.executed: list[Any] = []
        self.sessions = {"c1"}

    async def execute(self, command: Any) -> None:
        self.executed.append(command)

    def session(self, call_id: str) -> object | None:
        return object() if call_id in self.sessions else None


class Sip:
    def __init__(self) -> None:
        self.hung: list[tuple[str, str, str]] = []
        self.transfers: list[tuple[str, str, str | None, str | None]] = []

    def hangup(self, call_id: str, reason: str, by: str = "agent") -> None:
        self.hung.append((call_id, reason, by))

    def transfer(self, call_id: str, target: str, mode: str | None = None, brief: str | None = None) -> None:
        self.transfers.append((call_id, target, mode, brief))


def env(call_id: str = "c1") -> dict[str, Any]:
    return {"event_id": uuid.uuid4(), "call_id": call_id, "seq": 0, "occurred_at": datetime.now(UTC),
            "source": "t", "trace_id": call_id}  # fmt: skip


def play(pcm: bytes | None = b"\x10\x20" * 80, **fields: Any) -> m.PlayAudio:
    return m.PlayAudio(**env(), playback_id=str(uuid.uuid4()), pcm=pcm, **fields)


async def test_a_text_only_play_goes_to_the_speaker() -> None:
    spoken: list[Any] = []

    async def speaker(command: Any) -> None:
        spoken.append(command)

    engine = Engine()
    d = CommandDispatcher(Sip(), engine, speaker)
    assert await d.dispatch(play(pcm=None, text="hello", requested_by="op")) == "ok"
    assert await d.dispatch(play()) == "ok"
    assert [c.text for c in spoken] == ["hello"] and len(engine.executed) == 1


async def test_muted_agent_prompts_play_as_silence_the_operator_is_heard() -> None:
    engine = Engine()
    d = CommandDispatcher(Sip(), engine)
    assert await d.dispatch(m.MuteAgent(**env(), muted=True, requested_by="op")) == "ok"
    (stop,) = engine.executed
    assert isinstance(stop, m.StopPlayback) and stop.playback_id is None  # the agent stops at once
    await d.dispatch(play())
    agent = engine.executed[-1]
    assert agent.pcm == bytes(160)  # same length: the dialog's timing goes on
    await d.dispatch(play(requested_by="op"))
    assert engine.executed[-1].pcm == b"\x10\x20" * 80
    await d.dispatch(m.MuteAgent(**env(), muted=False, requested_by="op"))
    await d.dispatch(play())
    assert engine.executed[-1].pcm == b"\x10\x20" * 80


async def test_mute_for_a_call_without_media_is_ignored_and_ended_calls_are_forgotten() -> None:
    engine = Engine()
    d = CommandDispatcher(Sip(), engine)
    assert await d.dispatch(m.MuteAgent(**env("gone"), muted=True)) == "ignored"
    await d.dispatch(m.MuteAgent(**env(), muted=True))
    engine.sessions = {"c2"}
    engine.sessions.add("c2")
    await d.dispatch(m.MuteAgent(**env("c2"), muted=True))
    assert d.muted == {"c2"}


async def test_an_operators_hangup_is_recorded_as_the_operators() -> None:
    sip = Sip()
    d = CommandDispatcher(sip, Engine())
    await d.dispatch(m.Hangup(**env(), reason="done"))
    await d.dispatch(m.Hangup(**env(), reason="operator_hangup", requested_by="op"))
    assert sip.hung == [("c1", "done", "agent"), ("c1", "operator_hangup", "operator")]


async def test_a_transfer_carries_its_mode_and_brief_and_an_unknown_mode_is_refused() -> None:
    import pytest

    sip = Sip()
    d = CommandDispatcher(sip, Engine())
    target = "sip:person@192.0.2.9"
    await d.dispatch(m.TransferCall(**env(), target_uri=target))
    await d.dispatch(m.TransferCall(**env(), target_uri=target, mode="blind"))
    await d.dispatch(m.TransferCall(**env(), target_uri=target, mode="attended", brief="wants a refund"))
    assert sip.transfers == [
        ("c1", target, None, None),
        ("c1", target, "refer", None),
        ("c1", target, "attended", "wants a refund"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown transfer mode 'teleport'"):
        await d.dispatch(m.TransferCall(**env(), target_uri=target, mode="teleport"))
