"""The action conversation in Turkish: the sample Turkish booking action, a Turkish call's words, the
agent's own Turkish texts, and the confirmation as a Turkish voice will say it."""

import dataclasses
import json
import re
from datetime import date

from projections.api.sample import SAMPLE_PARAMETERS_TR, sample_action, sample_action_tr
from streams.engines.actions import Pending, Run, Say, advance, done_text, failed_text
from streams.engines.spoken import spoken_text

SUN = date(2026, 12, 6)
TR = "tr-TR"
SAMPLE_PARAMETERS_TR_JSON = json.dumps(SAMPLE_PARAMETERS_TR)
ACTIONS = [sample_action("https://x/book", "s" * 16), sample_action_tr("https://x/book", "s" * 16)]


def say(step: object) -> Say:
    assert isinstance(step, Say), step
    return step


def test_the_turkish_booking_conversation() -> None:
    first = say(advance(None, "Yarın saat onda servis randevusu almak istiyorum", SUN, ACTIONS, language=TR))
    assert first.intent == "action:book-service-tr:ask:name"
    assert first.text == "Randevuyu kimin adına oluşturayım?"
    assert first.pending is not None
    assert dict(first.pending.slots) == {"date": "2026-12-07", "time": "10:00"}
    confirm = say(advance(first.pending, "adım Ayşe Yılmaz", SUN, ACTIONS, language=TR))
    assert confirm.text == (
        "Ayşe Yılmaz adına yarın, 7 Aralık Pazartesi saat 10:00 için servis randevusu oluşturayım mı?"
    )
    spoken = spoken_text(confirm.text, TR)
    assert not re.search(r"\d", spoken) and "yedi Aralık" in spoken and "saat on " in spoken
    run = advance(confirm.pending, "Evet", SUN, ACTIONS, language=TR)
    assert isinstance(run, Run) and run.action.entity_id == "book-service-tr"
    assert dict(run.arguments) == {"date": "2026-12-07", "time": "10:00", "name": "Ayşe Yılmaz"}
    result = {"booking_id": "004512", "spoken_id": "0 0 4 5 1 2"}
    done = done_text(run.action, run.arguments, result, SUN, language=TR)
    assert (
        done
        == "Randevunuz oluşturuldu, Ayşe Yılmaz: yarın, 7 Aralık Pazartesi saat 10:00. Randevu numaranız "
        "0 0 4 5 1 2."
    )
    assert not re.search(r"\d", spoken_text(done, TR))


def test_all_slots_in_one_turkish_sentence_and_dotless_capitals() -> None:
    step = say(
        advance(
            None, "PAZARTESİ ÖĞLEDEN SONRA ÜÇTE SERVİS RANDEVUSU, ADIM IŞIL ÇELİK", SUN, ACTIONS, language=TR
        )
    )
    assert step.intent == "action:book-service-tr:confirm"
    assert step.pending is not None
    assert dict(step.pending.slots) == {"date": "2026-12-07", "time": "15:00", "name": "Işıl Çelik"}


def test_a_date_by_day_and_month_and_a_correction_while_confirming() -> None:
    step = say(
        advance(None, "15 Aralık saat 14:30 randevu almak istiyorum adım Ömer", SUN, ACTIONS, language=TR)
    )
    assert step.pending is not None and step.pending.confirming
    assert dict(step.pending.slots) == {"date": "2026-12-15", "time": "14:30", "name": "Ömer"}
    fixed = say(advance(step.pending, "hayır, saat on birde", SUN, ACTIONS, language=TR))
    assert fixed.pending is not None and fixed.pending.slots["time"] == "11:00"  # the corrected request


def test_turkish_no_cancel_and_unclear_answers() -> None:
    confirming = Pending(
        "book-service-tr", {"date": "2026-12-07", "time": "10:00", "name": "Ayşe"}, None, True
    )
    no = say(advance(confirming, "hayır", SUN, ACTIONS, language=TR))
    assert no.intent == "action:book-service-tr:declined" and no.pending is None
    assert (
        no.text == "Tamam, servis randevusu oluşturma işlemini yapmıyorum. Başka nasıl yardımcı olabilirim?"
    )
    cancelled = say(advance(confirming, "vazgeçtim", SUN, ACTIONS, language=TR))
    assert cancelled.text == "Tamam, iptal ettim. Başka nasıl yardımcı olabilirim?"
    unclear = say(advance(confirming, "belki", SUN, ACTIONS, language=TR))
    assert unclear.text.startswith("Üzgünüm, evet mi hayır mı? Ayşe adına")
    assert isinstance(advance(confirming, "tamam", SUN, ACTIONS, language=TR), Run)


def test_generic_texts_in_turkish_for_an_action_without_its_own() -> None:
    params = json.loads(SAMPLE_PARAMETERS_TR_JSON)
    del params["properties"]["name"]["x-ask"]
    plain = dataclasses.replace(
        ACTIONS[1], confirm_text="", done_text="", fallback_text="", parameters=json.dumps(params)
    )
    ask = say(advance(None, "yarın onda servis randevusu almak istiyorum", SUN, [plain], language=TR))
    assert ask.text == "isim ne olsun?"
    assert ask.pending is not None
    confirm = say(advance(ask.pending, "Ali", SUN, [plain], language=TR))
    assert confirm.text == (
        "gün: yarın, 7 Aralık Pazartesi, saat: 10:00, isim: Ali için servis randevusu oluşturma işlemini "
        "yapayım mı?"
    )
    assert failed_text(plain, TR).startswith(
        "Üzgünüm, şu anda servis randevusu oluşturma işlemini yapamıyorum."
    )
    assert (
        done_text(plain, {}, {}, SUN, language=TR)
        == "Tamam, hallettim. Başka bir konuda yardımcı olabilir miyim?"
    )
    again = say(advance(ask.pending, "", SUN, [plain], language=TR))
    assert again.text == "Üzgünüm, anlayamadım. isim ne olsun?"


def test_a_turkish_call_is_offered_the_turkish_action_and_english_is_unchanged() -> None:
    english = say(
        advance(None, "I would like to book a service tomorrow at ten", SUN, ACTIONS, language="en-US")
    )
    assert english.intent == "action:book-service:ask:name"
    assert advance(None, "servis randevusu", SUN, ACTIONS, language="en-US") is None
    assert advance(None, "book a service", SUN, ACTIONS, language=TR) is None  # the Turkish action only
