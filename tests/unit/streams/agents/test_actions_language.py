"""The worker's action turn speaks the call's language: Turkish words read as Turkish, and the reply
carries the call's language (the TTS worker picks the Turkish voice by it)."""

from __future__ import annotations

import dataclasses

from projections.api.sample import sample_action, sample_action_tr
from schemas import models as m
from streams.agents.actions import CallResult, take_turn
from tests.unit.streams.agents.test_actions import transcript

ACTIONS = [sample_action("https://x/book", "s" * 16), sample_action_tr("https://x/book", "s" * 16)]


class Booked:
    async def call(self, action: m.Action, body: bytes, request_id: str) -> CallResult:
        return CallResult(True, 200, {"booking_id": "004512", "spoken_id": "0 0 4 5 1 2"}, "", 1, 5.0)


async def test_a_turkish_turn_is_answered_in_turkish() -> None:
    said = dataclasses.replace(
        transcript("yarın saat onda servis randevusu, adım Ayşe Yılmaz"), language="tr-TR"
    )
    turn = await take_turn(said, None, ACTIONS, Booked())
    (reply,) = turn.facts
    assert isinstance(reply, m.AgentReplied) and reply.language == "tr-TR"
    assert (
        reply.text
        == "Ayşe Yılmaz adına yarın, 6 Aralık Pazar saat 10:00 için servis randevusu oluşturayım mı?"
    )
    yes = dataclasses.replace(transcript("evet", 2), language="tr-TR")
    done = await take_turn(yes, turn.pending, ACTIONS, Booked())
    requested, completed, answer = done.facts
    assert isinstance(completed, m.ActionCompleted)
    assert isinstance(requested, m.ActionRequested) and requested.action == "book-service-tr"
    assert answer.language == "tr-TR" and answer.text.startswith("Randevunuz oluşturuldu, Ayşe Yılmaz")


async def test_an_english_reply_keeps_the_english_language() -> None:
    turn = await take_turn(transcript("book a service tomorrow at ten"), None, ACTIONS, Booked())
    assert turn.facts[0].language == "en-US"
