"""Handing the caller to a person: the dialog says so, then transfers to the dialplan's target."""

from __future__ import annotations

from typing import Any

from schemas import models as m
from streams.dialog.machine import DEFAULT_POLICY as P
from streams.dialog.state import Phase, TimerName
from streams.engines.dialog import HANDOFF_INTENT
from tests.unit.streams.dialog.test_machine import PERSON, Run, commands


def listening(target: str | None = PERSON) -> Run:
    r = Run()
    r.feed(*r.s.setup(target=target), r.s.established())
    r.speak_pending()
    assert r.state.phase == Phase.LISTENING and r.state.handoff_target == target
    return r


def ask(r: Run, text: str, *, intent: str, reply: str) -> list[Any]:
    uid = f"u{r.state.turn + 1}"
    r.feed(r.s.speech(uid), r.s.captured(uid), r.s.transcribed(uid, text))
    return r.feed(r.s.replied(uid, reply, intent=intent))


def transfers(decisions: list[Any]) -> list[m.TransferCall]:
    return [c for c in commands(decisions) if isinstance(c, m.TransferCall)]


def test_asking_for_a_person_plays_the_reply_then_transfers() -> None:
    r = listening()
    ask(r, "I want to talk to a person", intent=HANDOFF_INTENT, reply="Let me connect you.")
    assert r.state.phase == Phase.SPEAKING and r.state.handoff and not r.state.barge_in
    reply_id = r.state.pending_reply
    assert reply_id is not None
    before = len(r.decisions)
    r.feed(r.s.synthesized(reply_id))
    r.feed(r.s.speech("u-over"))  # the caller talks over "please hold": it is not interrupted
    assert r.state.playing == reply_id
    done = r.feed(*r.s.played(reply_id))
    (transfer,) = transfers(done)
    assert transfer.target_uri == PERSON and transfer.source == P.source
    assert transfer.brief == "the caller asked to speak to a person"  # what an attended transfer says
    assert transfer.mode is None  # the dialplan's transfer_mode decides
    assert r.state.phase == Phase.TRANSFERRING and r.armed().timer == TimerName.TRANSFER
    assert not transfers(r.decisions[:before])
    # the transfer completes: the edge hangs up its leg; the dialog just waits for CallEnded
    assert r.feed(r.s.transferred(PERSON, "accepted", 202), r.s.transferred(PERSON, "completed", 200)) == []
    r.feed(r.s.ended("agent"))
    assert r.state.phase == Phase.ENDED


def test_a_failed_transfer_takes_the_caller_back() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))  # with a target, 0 asks for a person (not goodbye)
    assert r.said().text == P.handoff_hold
    r.speak_pending()
    assert r.state.phase == Phase.TRANSFERRING
    r.feed(r.s.transferred(PERSON, "failed", 486))
    assert r.state.phase == Phase.SPEAKING and r.said().text == P.handoff_failed
    r.speak_pending()
    assert r.state.phase == Phase.LISTENING and not r.state.handoff
    # and the conversation goes on
    ask(r, "what are your opening hours", intent="hours", reply="Nine to five.")
    assert r.state.phase == Phase.SPEAKING


def test_no_outcome_within_the_transfer_timeout_takes_the_caller_back() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    r.speak_pending()
    timer = r.armed()
    r.feed(r.s.timer(str(TimerName.TRANSFER), timer.armed_seq))
    assert r.state.phase == Phase.SPEAKING and r.said().text == P.handoff_failed


def test_while_transferring_the_caller_is_not_answered() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    r.speak_pending()
    assert r.feed(r.s.speech("u9"), r.s.transcribed("u9", "hello?"), r.s.dtmf("5")) == []
    assert r.state.phase == Phase.TRANSFERRING


def test_without_a_target_nobody_is_promised() -> None:
    r = listening(target=None)
    ask(r, "I want to talk to a person", intent=HANDOFF_INTENT, reply="Let me connect you.")
    assert r.said().text == P.handoff_unavailable and not r.state.handoff
    r.speak_pending()
    assert r.state.phase == Phase.LISTENING and not transfers(r.decisions)
    r.feed(r.s.dtmf("0"))  # and 0 is goodbye, as before
    assert r.state.phase == Phase.CLOSING


def test_not_understood_twice_goes_to_a_person() -> None:
    r = listening()
    ask(r, "blorp", intent="fallback", reply="Sorry, I can help with hours or prices.")
    assert r.state.misunderstood == 1 and not r.state.handoff
    r.speak_pending()
    ask(r, "hours", intent="hours", reply="Nine to five.")  # understood: the count starts over
    assert r.state.misunderstood == 0
    r.speak_pending()
    ask(r, "blorp", intent="fallback", reply="Sorry?")
    r.speak_pending()
    ask(r, "blorp blorp", intent="fallback", reply="Sorry?")
    assert r.said().text == P.handoff_hold and r.state.handoff
    (transfer,) = transfers(
        r.feed(r.s.synthesized(r.state.pending_reply or ""), *r.s.played(r.said().reply_id))
    )
    assert transfer.target_uri == PERSON


def test_an_operators_transfer_elsewhere_is_not_the_dialogs() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    r.speak_pending()
    assert r.feed(r.s.transferred("sip:other@example.com", "failed", 603)) == []
    assert r.state.phase == Phase.TRANSFERRING


def test_hold_audio_that_never_comes_still_transfers() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    timer = r.armed()
    assert timer.timer == TimerName.NO_REPLY
    (transfer,) = transfers(r.feed(r.s.timer(str(TimerName.NO_REPLY), timer.armed_seq)))
    assert transfer.target_uri == PERSON and r.state.phase == Phase.TRANSFERRING


def test_a_bridged_transfer_keeps_the_agent_silent_past_the_transfer_timeout() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    r.speak_pending()
    timer = r.armed()
    # the caller's side refused REFER: the edge calls the person itself, then joins the two calls
    assert not commands(r.feed(r.s.transferred(PERSON, "bridging", 603)))  # the wait restarts, nothing sent
    assert r.state.phase == Phase.TRANSFERRING and r.state.timer is not None
    r.feed(r.s.transferred(PERSON, "bridged", 200))
    assert r.state.phase == Phase.TRANSFERRING and r.state.timer is None
    assert r.feed(r.s.timer(str(TimerName.TRANSFER), timer.armed_seq)) == []  # no taking back
    uid = "u-talk"
    assert not commands(r.feed(r.s.speech(uid), r.s.captured(uid), r.s.transcribed(uid, "hello")))
    r.feed(r.s.ended("caller"))
    assert r.state.phase == Phase.ENDED


def test_a_bridged_transfer_whose_target_is_busy_takes_the_caller_back() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    r.speak_pending()
    r.feed(r.s.transferred(PERSON, "bridging", 603), r.s.transferred(PERSON, "failed", 486))
    assert r.state.phase == Phase.SPEAKING and r.said().text == P.handoff_failed


def test_the_transfer_brief_says_why_and_an_attended_briefing_waits_for_the_bridge() -> None:
    r = listening()
    r.feed(r.s.dtmf("0"))
    r.speak_pending()
    (transfer,) = transfers(r.decisions)
    assert transfer.brief == "the caller pressed 0 for a person"
    armed = r.state.timer
    assert armed is not None
    assert not commands(
        r.feed(r.s.transferred(PERSON, "bridging", None), r.s.transferred(PERSON, "briefing", 200))
    )
    again = r.state.timer  # each step of the edge's own call restarts the wait for the outcome
    assert again is not None and again.name == TimerName.TRANSFER and again.armed_seq > armed.armed_seq
    assert r.state.phase == Phase.TRANSFERRING
    r.feed(r.s.transferred(PERSON, "bridged", 200))
    assert r.state.timer is None  # joined: no taking back
