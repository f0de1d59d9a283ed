"""The dashboard's operator buttons in headless Chromium on a live sipp call: the API (uvicorn, with the
web router and its projector) and a real edge on the real Kafka. "Say" is heard as a playback of the
typed words; "Hang up" ends the call with the edge's BYE (sipp receives it)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import async_playwright, expect

from edge.app import EdgeApp
from projections.api.app import create_app
from projections.api.services import ApiConfig
from sentiric.net import free_port
from tests.integration.projections.conftest import create_database, drop_database
from tests.support.sipp import edge_settings, run_sipp
from tests.support.waiting import until

TOKEN = "test-admin-token-buttons-0123456789"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[4] / "test-artifacts" / "web"


@pytest.fixture
async def edge(kafka: str, tmp_path: Path) -> AsyncIterator[EdgeApp]:
    app = EdgeApp(edge_settings(kafka, tmp_path / "home", tts_engine="espeak", greeting_timeout_s=0.0))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def api_url(kafka: str, postgres_dsn: str, edge: EdgeApp) -> AsyncIterator[str]:
    dsn = await create_database(postgres_dsn)
    config = ApiConfig(
        dsn=dsn,
        client={"bootstrap_servers": kafka},
        admin_token=TOKEN,
        recordings_root=edge.settings.recordings_root,
        run_webhooks=False,
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        await drop_database(postgres_dsn, dsn)


async def test_say_and_hang_up_buttons(api_url: str, edge: EdgeApp, tmp_path: Path) -> None:
    number = f"3{uuid.uuid4().int % 10**6:06d}"
    sipp = asyncio.create_task(
        run_sipp(edge.sip_port, tmp_path, scenario="uac_wait_bye.xml", service=number, timeout_s=90)
    )
    # /events opens two Kafka consumers per request: on a loaded CI box that can take longer than
    # httpx's 5 s default, which is not what this test is about.
    http = httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    try:

        async def answered() -> Any:
            items = (await http.get("/api/calls", params={"callee": number})).json()["items"]
            return next((c["call_id"] for c in items if c["answered_at"]), None)

        call_id = await until(answered, "answered call in the CDR")
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
            try:
                page = await browser.new_page()
                await page.goto(f"{api_url}/signin?next=/")
                await page.fill("#token", TOKEN)
                await page.click("#submit")
                await expect(page).to_have_url(f"{api_url}/")
                await page.goto(f"{api_url}/#call={call_id}")
                await page.reload()  # a hash change alone does not load the page again
                await expect(page.locator("#operator")).to_be_visible(timeout=30_000)

                text = "An operator is on the line."
                await page.fill("#op-text", text)
                await page.click("#op-say")
                await expect(page.locator("#op-status")).to_have_text("PlayAudio sent")

                async def said() -> Any:
                    events = (await http.get(f"/api/calls/{call_id}/events")).json()
                    spoken = [e for e in events if e["type"] == "SpeechSynthesized" and e["text"] == text]
                    ids = {e["reply_id"] for e in spoken}
                    return [e for e in events if e["type"] == "PlaybackFinished" and e["playback_id"] in ids]

                (finished,) = await until(said, "the typed words played")
                assert not finished["interrupted"] and finished["played_ms"] > 1000, finished

                await page.click("#op-mute")
                await expect(page.locator("#op-status")).to_have_text("MuteAgent sent")
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "dashboard-operator.png"), full_page=True)
                await page.click("#op-hangup")
                await expect(page.locator("#op-status")).to_have_text("Hangup sent")
            finally:
                await browser.close()
        result = await asyncio.wait_for(sipp, 30)
        assert result.last("SuccessfulCall(C)") == 1, result.describe()  # the edge's BYE reached sipp

        async def ended() -> Any:
            call = (await http.get(f"/api/calls/{call_id}")).json()
            return call if call["ended_at"] else None

        call = await until(ended, "ended call in the CDR")
        assert call["end_reason"] == "operator_hangup"
    finally:
        await http.aclose()
        if not sipp.done():
            sipp.cancel()
            with contextlib.suppress(BaseException):
                await sipp
