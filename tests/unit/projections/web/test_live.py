"""The live-calls fold behind /api/live, and the SSE framing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from projections.web.live import LiveCalls, sse
from schemas import models as m
from streams.dialog.script import DEFAULTS

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fact(cls: type[Any], call_id: str = "c1", at: int = 0, **fields: Any) -> Any:
    envelope = {"event_id": uuid.uuid4(), "call_id": call_id, "seq": at + 1,
                "occurred_at": T0 + timedelta(seconds=at), "source": "edge-1", "trace_id": "t"}  # fmt: skip
    return cls(**envelope, **{**DEFAULTS[cls], **fields})


def test_a_call_goes_live_changes_and_ends() -> None:
    live = LiveCalls()
    invite = live.apply(fact(m.CallInviteReceived, channel="web", caller="alice", callee="web"))
    assert invite is not None
    assert (invite["status"], invite["channel"], invite["invite_at"]) == (
        "ringing",
        "web",
        "2026-01-02T03:04:05Z",
    )
    assert live.apply(fact(m.CallAnswered, at=1))["status"] == "answered"  # type: ignore[index]
    state = live.apply(fact(m.DialogStateChanged, at=2, to_state="LISTENING", turn=0))
    assert state is not None and state["dialog_state"] == "LISTENING"
    heard = live.apply(fact(m.UtteranceTranscribed, at=3, text="opening hours", is_final=True))
    assert heard is not None and heard["last_caller_text"] == "opening hours"
    assert live.apply(fact(m.UtteranceTranscribed, at=3, text="", is_final=True)) is None
    said = live.apply(fact(m.AgentReplied, at=4, text="Nine to six."))
    assert said is not None and said["last_agent_text"] == "Nine to six."
    assert [c["call_id"] for c in live.snapshot()] == ["c1"]
    ended = live.apply(fact(m.CallEnded, at=9))
    assert ended is not None and ended["status"] == "ended" and ended["updated_at"] == "2026-01-02T03:04:14Z"
    assert live.snapshot() == []


def test_facts_of_unknown_calls_and_other_facts_are_ignored() -> None:
    live = LiveCalls()
    assert live.apply(fact(m.CallAnswered, "unknown")) is None
    live.apply(fact(m.CallInviteReceived))
    assert live.apply(fact(m.SpeechStarted)) is None


def test_seed_from_the_cdr_store_then_follow() -> None:
    live = LiveCalls()
    live.seed([{"call_id": "old", "channel": "sip", "caller": "100", "callee": "200", "invite_at": T0,
                "answered_at": T0 + timedelta(seconds=1)}])  # fmt: skip
    assert live.snapshot()[0]["status"] == "answered"
    assert live.apply(fact(m.CallEnded, "old", at=30))["status"] == "ended"  # type: ignore[index]


def test_sse_framing() -> None:
    frame = sse("call", {"call_id": "c1", "at": T0})
    head, data, end = frame.split(b"\n", 2)
    assert head == b"event: call" and end == b"\n"
    assert json.loads(data.removeprefix(b"data: ")) == {"call_id": "c1", "at": "2026-01-02 03:04:05+00:00"}


async def test_each_subscriber_sees_only_its_tenants_calls() -> None:
    import asyncio

    from projections.web.live import LiveFeed

    feed = LiveFeed({"bootstrap_servers": "127.0.0.1:1"})  # never started: the fold and fan-out only
    feed.live.seed([{"call_id": "seeded", "invite_at": T0, "tenant": "globex"}])
    change = feed.live.apply(fact(m.CallInviteReceived, "a1", tenant="acme"))
    assert change is not None and change["tenant"] == "acme"
    assert [c["call_id"] for c in feed.live.snapshot("acme")] == ["a1"]
    assert [c["call_id"] for c in feed.live.snapshot("globex")] == ["seeded"]
    assert len(feed.live.snapshot()) == 2
    acme, globex, everyone = feed.stream("acme"), feed.stream("globex"), feed.stream(None)
    first = [await anext(s) for s in (acme, globex, everyone)]
    assert b'"a1"' in first[0] and b"seeded" not in first[0]
    assert b"seeded" in first[1] and b'"a1"' not in first[1]
    assert b'"a1"' in first[2] and b"seeded" in first[2]
    feed._publish(sse("call", change), "acme")
    assert b'"a1"' in await asyncio.wait_for(anext(acme), 1)
    assert b'"a1"' in await asyncio.wait_for(anext(everyone), 1)
    pending = asyncio.ensure_future(anext(globex))
    await asyncio.sleep(0.05)
    assert not pending.done()  # globex's subscriber got nothing of acme's
    pending.cancel()
    for s in (acme, everyone):
        await s.aclose()
