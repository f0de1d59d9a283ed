"""The Turkish sample booking action by text over /ws, on the real stack (Kafka, the streams worker, the
gateway, the API with the sample booking endpoint and its PostgreSQL): extension 2000 is the Turkish
sample business; "yarın saat onda servis randevusu almak istiyorum" → the agent asks the name in
Turkish → "adım Ayşe Yılmaz" → the Turkish confirmation → "evet" → a booking row exists."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from edge.uas.dialplan import Plan
from edge.uas.directory import StaticDirectory
from projections.api.sample import SAMPLE_ACTION_TR_ID
from sentiric.eventlog.connection import client_options
from sentiric.sample_business import SAMPLE_TENANT
from streams.dialog.slots_tr import MONTHS
from tests.integration.web.conftest import AUTH, WebStack
from tests.integration.web.test_ws_booking import Api, booking_db, conversation, say_and_hear

__all__ = ["booking_db"]  # the fixture, imported for this module's test


@pytest.fixture
def turkish_2000(web_stack: WebStack) -> Iterator[None]:
    """Extension 2000 is the Turkish sample business (the tenant ``ornek``, whose knowledge and
    booking action the call may use) whatever dialplans earlier tests configured."""
    gateway = web_stack.service.gateway
    before = gateway.directory
    plan = Plan("sample-tr", "2000", "agent", language="tr-TR", tenant=SAMPLE_TENANT)
    gateway.directory = StaticDirectory([plan])
    yield
    gateway.directory = before


async def turkish_action(api: Api) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=api.url, headers=AUTH) as http:
        for _ in range(300):
            r = await http.get(f"/api/admin/actions/{SAMPLE_ACTION_TR_ID}")
            if r.status_code == 200:
                found: dict[str, Any] = r.json()
                return found
            await asyncio.sleep(0.1)
    raise AssertionError("the Turkish sample action was not created")


async def test_booking_in_turkish_by_text(web_stack: WebStack, booking_db: str, turkish_2000: None) -> None:
    settings = web_stack.settings
    api = Api(client_options(settings), settings.api_port, booking_db)
    await api.start()
    try:
        async with httpx.AsyncClient(base_url=api.url, headers=AUTH) as http:
            await api.sample_action()
            action = await turkish_action(api)
            assert action["language"] == "tr-TR" and "servis randevusu" in action["triggers"]
            await asyncio.sleep(2.0)  # the worker's config view reads it
            tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
            day = f"{tomorrow.day} {MONTHS[tomorrow.month - 1]}"
            async for ws, talk in conversation(web_stack, "?caller=it-tr-book&to=2000"):
                asked = await say_and_hear(
                    ws, talk, web_stack, "Yarın saat onda servis randevusu almak istiyorum"
                )
                assert asked.text == "Randevuyu kimin adına oluşturayım?", asked.text
                confirm = await say_and_hear(ws, talk, web_stack, "ADIM AYŞE YILMAZ")
                assert confirm.text.startswith(f"Ayşe Yılmaz adına yarın, {day} "), confirm.text
                assert confirm.text.endswith(" saat 10:00 için servis randevusu oluşturayım mı?"), (
                    confirm.text
                )
                done = await say_and_hear(ws, talk, web_stack, "evet")
                assert done.text.startswith(f"Randevunuz oluşturuldu, Ayşe Yılmaz: yarın, {day} "), done.text
                rows = (await http.get("/api/sample/bookings")).json()
                mine = [r for r in rows if r["name"] == "Ayşe Yılmaz"]
                assert [(b["date"], b["time"]) for b in mine] == [(tomorrow.isoformat(), "10:00")]
                assert " ".join(mine[0]["booking_id"]) in done.text
    finally:
        await api.stop()
