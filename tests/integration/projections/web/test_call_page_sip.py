"""The call page of a SIP call in headless Chromium: sipp calls a real edge on the real Kafka and asks
its question as G.711 RTP (the e2e fixture pcap); the API (uvicorn, its projector on a private
database) serves the page. The SIP ladder shows the dialog both ways, the caller's utterance plays
(8 kHz, its duration that of the utterance within 10 %), and media quality is drawn over time."""

from __future__ import annotations

import asyncio
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
from tests.integration.e2e.stack import QUESTION_PCAP, caller_scenario
from tests.integration.projections.conftest import create_database, drop_database
from tests.support.sipp import edge_settings, run_sipp
from tests.support.waiting import until

TOKEN = "test-admin-token-call-page-0123456789"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parents[4] / "test-artifacts" / "web"
QUESTION_MS = 3600  # the pcap: 0.2 s silence, 1.86 s question, 1.5 s silence


@pytest.fixture
async def edge(kafka: str, tmp_path: Path) -> AsyncIterator[EdgeApp]:
    app = EdgeApp(edge_settings(kafka, tmp_path / "home", tts_engine="espeak"))
    await app.start()
    yield app
    await app.stop()


@pytest.fixture
async def api_url(kafka: str, postgres_dsn: str) -> AsyncIterator[str]:
    dsn = await create_database(postgres_dsn)
    config = ApiConfig(dsn=dsn, client={"bootstrap_servers": kafka}, admin_token=TOKEN, run_webhooks=False)
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


async def test_the_call_page_of_a_sip_call(api_url: str, edge: EdgeApp, tmp_path: Path) -> None:
    number = f"4{uuid.uuid4().int % 10**6:06d}"
    scenario = caller_scenario(tmp_path, QUESTION_PCAP, before_ms=500, pcap_ms=QUESTION_MS, after_ms=6000)
    result = await run_sipp(edge.sip_port, tmp_path, scenario=scenario, service=number, timeout_s=60)
    assert result.returncode == 0, result.describe()
    async with httpx.AsyncClient(
        base_url=api_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as http:

        async def ended() -> Any:
            items = (await http.get("/api/calls", params={"callee": number})).json()["items"]
            return next((c["call_id"] for c in items if c["finished_at"]), None)

        call_id = await until(ended, "the ended call in the CDR")

        async def told() -> Any:  # the edge's last facts (the final quality report) follow its CallEnded
            story = (await http.get(f"/api/calls/{call_id}/story")).json()
            return story if any(q["final"] for q in story["quality"]) else None

        story = await until(told, "the final quality report")
    heard = next(t for t in story["turns"] if t["speaker"] == "caller" and t["audio_url"])
    utterance = next(e for e in story["events"] if e["type"] == "UtteranceCaptured" and e["pcm_bytes"])
    ended = next(e for e in story["events"] if e["type"] == "CallEnded")
    spoken_ms = utterance["end_ms"] - utterance["start_ms"]
    assert utterance["sample_rate"] == 8000 and heard["offset"] == utterance["log"]["offset"]

    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
            )
            await page.goto(f"{api_url}/signin?next=/")
            await page.fill("#token", TOKEN)
            await page.click("#submit")
            await expect(page).to_have_url(f"{api_url}/")
            await page.goto(f"{api_url}/#call={call_id}")
            await page.reload()  # a hash change alone does not load the page again
            await page.click("#story-link")  # the dashboard's call panel links to the call page
            await expect(page).to_have_url(f"{api_url}/call?id={call_id}")
            await expect(page.locator("body")).to_have_attribute("data-loaded", "yes", timeout=60_000)

            ladder = page.locator("#sip tbody tr")
            lines = [await row.inner_text() for row in await ladder.all()]
            assert any("──▶ INVITE sip:" in line for line in lines), lines
            assert any("◀── SIP/2.0 200 OK" in line for line in lines), lines
            assert any("──▶ ACK" in line for line in lines), lines
            # Without a dialog worker the edge plays its fallback and hangs up; the arrow says who did.
            bye = "──▶ BYE" if ended["hangup_by"] == "caller" else "◀── BYE"
            assert any(bye in line for line in lines), (ended, lines)
            await expect(page.locator("#sip-note")).not_to_have_text("not a SIP call")

            audio = page.locator(f'.turn.caller audio[data-offset="{heard["offset"]}"]')
            state = await audio.evaluate(
                """(audio) => new Promise((resolve) => {
                    const done = () => resolve({ready: audio.readyState, duration: audio.duration,
                                                error: audio.error && audio.error.code});
                    if (audio.readyState >= 1) return done();
                    audio.addEventListener("loadedmetadata", done, { once: true });
                    audio.addEventListener("error", done, { once: true });
                })"""
            )
            assert state["error"] is None and state["ready"] >= 1, state
            assert abs(state["duration"] * 1000 - spoken_ms) <= 0.1 * spoken_ms, (state, spoken_ms)

            await expect(page.locator("#quality .chart svg")).to_have_count(3)
            await expect(page.locator("#quality .chart svg circle").first).to_be_attached()  # a point drawn
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "call-page-sip.png"), full_page=True)
        finally:
            await browser.close()
    assert not errors, errors
