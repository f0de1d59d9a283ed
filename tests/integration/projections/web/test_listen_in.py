"""Listen-in in headless Chromium on a live sipp call: the dashboard's "Listen" button opens the API's
WebSocket (`/api/calls/{id}/listen`), which relays the real edge's gRPC StreamAudio (both directions
mixed); the browser receives non-silent 8 kHz PCM frames of what the sipp caller says. Each listen
is audited on the log (`ListenCall`, listening true then false, with who asked). A WebSocket handshake
without a token, or with a read-scope token, is refused before any audio."""

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
import websockets
from playwright.async_api import async_playwright, expect

from edge.app import EdgeApp
from projections.api.app import create_app
from projections.api.services import ApiConfig
from sentiric.net import free_port
from tests.integration.e2e.stack import FIXTURES, PERSON_PCAP, caller_scenario
from tests.integration.projections.conftest import create_database, drop_database
from tests.support.sipp import edge_settings, run_sipp
from tests.support.waiting import until

TOKEN = "test-admin-token-listen-0123456789"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[4] / "test-artifacts" / "web"
SPEECH_PEAK = 3000  # the fixture's words peak far above this; comfort noise and silence stay below


@pytest.fixture
async def edge(kafka: str, tmp_path: Path) -> AsyncIterator[EdgeApp]:
    # no dialog worker: the greeting watchdog is off, so the call stays up; the API's admin token is
    # the edge's too (the gRPC MediaService wants an admin token)
    settings = edge_settings(
        kafka, tmp_path / "home", tts_engine="espeak", greeting_timeout_s=0.0, admin_token=TOKEN
    )
    app = EdgeApp(settings)
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def api_url(kafka: str, postgres_dsn: str, edge: EdgeApp) -> AsyncIterator[str]:
    assert edge.grpc_port, "the edge's MediaService did not start"
    dsn = await create_database(postgres_dsn)
    config = ApiConfig(
        dsn=dsn,
        client={"bootstrap_servers": kafka},
        admin_token=TOKEN,
        run_webhooks=False,
        listen_grpc=f"127.0.0.1:{edge.grpc_port}",
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


async def refused(url: str, headers: dict[str, str]) -> int:
    """The HTTP status a WebSocket handshake got instead of being accepted."""
    try:
        async with websockets.connect(url, additional_headers=headers):
            return 101
    except websockets.InvalidStatus as exc:
        return exc.response.status_code


async def test_the_listen_button_plays_the_live_calls_audio(
    api_url: str, edge: EdgeApp, tmp_path: Path
) -> None:
    number = f"4{uuid.uuid4().int % 10**6:06d}"
    scenario = caller_scenario(
        tmp_path / "caller", PERSON_PCAP, before_ms=1000, pcap_ms=3000, after_ms=500,
        template=FIXTURES / "uac_caller_talks.xml",
    )  # fmt: skip
    sipp = asyncio.create_task(
        run_sipp(edge.sip_port, tmp_path, scenario=scenario, service=number, timeout_s=120)
    )
    http = httpx.AsyncClient(base_url=api_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60)
    args = [
        "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--autoplay-policy=no-user-gesture-required",
    ]  # fmt: skip
    try:

        async def answered() -> Any:
            items = (await http.get("/api/calls", params={"callee": number})).json()["items"]
            return next((c["call_id"] for c in items if c["answered_at"]), None)

        call_id = await until(answered, "answered call in the CDR")
        ws_url = api_url.replace("http://", "ws://") + f"/api/calls/{call_id}/listen"
        assert await refused(ws_url, {}) == 403  # no credential
        reader = await http.post(
            "/api/admin/tokens", json={"name": f"reader-{uuid.uuid4().hex[:6]}", "scopes": ["read"]}
        )
        assert reader.status_code in (200, 201), reader.text
        assert await refused(ws_url, {"Authorization": f"Bearer {reader.json()['token']}"}) == 403
        unknown = api_url.replace("http://", "ws://") + f"/api/calls/{uuid.uuid4()}/listen"
        assert await refused(unknown, {"Authorization": f"Bearer {TOKEN}"}) == 403  # no such call

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
            try:
                page = await browser.new_page()
                await page.goto(f"{api_url}/signin?next=/")
                await page.fill("#token", TOKEN)
                await page.click("#submit")
                await expect(page).to_have_url(f"{api_url}/")
                # the signed-in browser's cookie, sent by a page of another site: refused (no CORS for
                # WebSockets, so the API checks the Origin itself)
                cookie = "; ".join(f"{c['name']}={c['value']}" for c in await page.context.cookies())
                foreign = {"Cookie": cookie, "Origin": "https://evil.example"}
                assert await refused(ws_url, foreign) == 403
                await page.goto(f"{api_url}/#call={call_id}")
                await page.reload()  # a hash change alone does not load the page again
                await expect(page.locator("#op-listen")).to_be_visible(timeout=30_000)
                await page.click("#op-listen")
                await expect(page.locator("#op-listen-status")).to_have_text(
                    "listening (mixed)", timeout=15_000
                )
                await page.wait_for_function(
                    "peak => { const s = document.getElementById('op-listen-status');"
                    " return s && Number(s.dataset.frames) >= 100 && Number(s.dataset.peak) >= peak; }",
                    arg=SPEECH_PEAK,
                    timeout=30_000,
                )
                status = page.locator("#op-listen-status")
                frames, peak = (
                    await status.get_attribute("data-frames"),
                    await status.get_attribute("data-peak"),
                )
                ARTIFACTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(ARTIFACTS / "dashboard-listen.png"), full_page=True)
                await page.click("#op-listen")  # stop
                await expect(page.locator("#op-listen")).to_have_text("Listen")
            finally:
                await browser.close()
        assert int(frames or 0) >= 100 and int(peak or 0) >= SPEECH_PEAK, (frames, peak)

        async def audited() -> Any:
            events = (await http.get(f"/api/calls/{call_id}/events")).json()
            listens = [e for e in events if e["type"] == "ListenCall"]
            return listens if [e["listening"] for e in listens] == [True, False] else None

        listens = await until(audited, "the listen's start and end on the call's timeline")
        assert {e["requested_by"] for e in listens} == {"bootstrap admin (SENTIRIC_ADMIN_TOKEN)"}
        assert all(e["direction"] == "mixed" for e in listens)
        result = await asyncio.wait_for(sipp, 90)  # the caller talks ~30 s, then hangs up
        assert result.returncode == 0, result.describe()
    finally:
        await http.aclose()
        if not sipp.done():
            sipp.cancel()
            with contextlib.suppress(BaseException):
                await sipp
