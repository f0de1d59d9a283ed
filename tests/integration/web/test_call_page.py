"""The call page in headless Chromium on a real call: a spoken question over /ws on the real stack
(Kafka, a streams worker with Whisper, the knowledge base and espeak-ng; the gateway), then the main
API (uvicorn, its projector on a private database) serving the page. The caller's utterance and the
agent's answer play in <audio> elements (metadata loaded, duration that of the utterance within 10 %),
the page shows the transcript, the decision and the latency of each stage, and the golden button
writes a directory that `sentiric replay check` accepts (exit 0). Screenshot: test-artifacts/web/."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Page, async_playwright, expect
from websockets.asyncio.client import connect

from edge.ws import protocol as p
from projections.api.app import create_app
from projections.api.services import ApiConfig
from schemas.turn_ids import is_early
from sentiric.eventlog.connection import client_options
from sentiric.net import free_port
from streams.engines.knowledge import load_knowledge
from tests.integration.projections.conftest import create_database, drop_database
from tests.integration.web.conftest import ADMIN_TOKEN, AUTH, WebStack, wait_until
from tests.integration.web.test_ws_gateway import Conversation, question_pcm
from tests.support.waiting import until

ROOT = Path(__file__).parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
WAIT_S = 180.0


@pytest.fixture
async def api(web_stack: WebStack, postgres_dsn: str, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """The main API with its projector on a private database, exporting golden calls under tmp_path."""
    dsn = await create_database(postgres_dsn)
    golden = tmp_path / "golden"
    config = ApiConfig(dsn=dsn, client=client_options(web_stack.settings), admin_token=ADMIN_TOKEN,
                       run_webhooks=False, golden_root=golden)  # fmt: skip
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
        yield f"http://127.0.0.1:{port}", golden
    finally:
        server.should_exit = True
        await task
        await drop_database(postgres_dsn, dsn)


async def a_spoken_question(web_stack: WebStack) -> str:
    """A caller asks for the opening hours over /ws, hears the answer, and hangs up; the call id."""
    async with connect(web_stack.ws_url + "?caller=it-call-page&to=help", additional_headers=AUTH) as ws:
        call_id = p.SessionInfo.parse(await ws.recv()).call_id
        talk = Conversation(ws)

        def wait(kind: type[Any], what: str, **fields: Any) -> Any:
            return wait_until(lambda: talk.find(kind, **fields), what, WAIT_S, web_stack.alive)

        greeting = await wait(p.Reply, "the greeting")
        await wait(p.PlaybackEvent, "the greeting played", playback_id=greeting.reply_id, event="finished")
        await wait(p.StateChange, "LISTENING", to_state="LISTENING")
        pcm = question_pcm() + bytes(2 * 16000)  # the question, then a second of silence
        for i in range(0, len(pcm), 3200):  # 100 ms frames, in real time
            await ws.send(pcm[i : i + 3200])
            await asyncio.sleep(0.1)

        def the_answer() -> Any:
            return next((m for m in talk.messages if isinstance(m, p.Reply) and m != greeting), None)

        answer = await wait_until(the_answer, "the answer", WAIT_S, web_stack.alive)
        await wait(p.PlaybackEvent, "the answer played", playback_id=answer.reply_id, event="finished")
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 10)
    return call_id


async def audio_state(page: Page, selector: str) -> dict[str, Any]:
    """The element's readyState and duration once its metadata loaded (or its error)."""
    handle = page.locator(selector).first
    await expect(handle).to_be_attached()
    return await handle.evaluate(
        """(audio) => new Promise((resolve) => {
            const done = () => resolve({ready: audio.readyState, duration: audio.duration,
                                        error: audio.error && audio.error.code, src: audio.currentSrc});
            if (audio.readyState >= 1) return done();
            audio.addEventListener("loadedmetadata", done, { once: true });
            audio.addEventListener("error", done, { once: true });
            audio.load();
        })"""
    )


async def test_call_page_plays_the_utterances_and_exports_a_golden_call(
    web_stack: WebStack, api: tuple[str, Path]
) -> None:
    api_url, golden = api
    hours = next(e for e in load_knowledge() if e.entity_id == "hours")
    call_id = await a_spoken_question(web_stack)
    async with httpx.AsyncClient(base_url=api_url, headers=AUTH, timeout=60) as http:

        async def ended() -> Any:
            r = await http.get(f"/api/calls/{call_id}")
            return r.status_code == 200 and r.json()["finished_at"]

        await until(ended, "the call in the CDR as ended")
        started = time.perf_counter()
        story = (await http.get(f"/api/calls/{call_id}/story")).json()
        print(
            f"/story of a {len(story['events'])}-record call: {1000 * (time.perf_counter() - started):.0f} ms"
        )
    utterance = next(e for e in story["events"] if e["type"] == "UtteranceCaptured" and e["pcm_bytes"])
    answer = next(t for t in story["turns"] if t["speaker"] == "agent" and t["intent"] == "hours")
    stages = answer["latency_ms"]
    print("stages of the answer (ms):", stages, "engines (ms):", answer["engine_ms"])
    assert all(stages[k] is not None and stages[k] >= 0 for k in ("stt", "dialog", "tts", "playout")), stages
    assert stages["stt"] > 0 and stages["voice_to_voice"] >= 0, stages
    if not is_early(answer["utterance_id"]):  # prepared at the pause: STT ran before the utterance ended
        assert stages["voice_to_voice"] >= stages["stt"], stages
    spoken_ms = utterance["end_ms"] - utterance["start_ms"]

    args = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
            "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "response", lambda r: errors.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
            )
            await page.goto(f"{api_url}/call?id={call_id}")  # not signed in: via the sign-in page, and back
            await page.fill("#token", ADMIN_TOKEN)
            await page.click("#submit")
            await expect(page).to_have_url(f"{api_url}/call?id={call_id}")
            await expect(page.locator("body")).to_have_attribute("data-loaded", "yes", timeout=60_000)
            print(
                f"call page loaded its story in {await page.locator('body').get_attribute('data-load-ms')} ms"
            )

            selector = f'.turn.caller audio[data-offset="{utterance["log"]["offset"]}"]'
            await expect(page.locator(selector)).to_have_count(1)
            heard = await audio_state(page, selector)
            assert heard["error"] is None and heard["ready"] >= 1, heard
            assert abs(heard["duration"] * 1000 - spoken_ms) <= 0.1 * spoken_ms, (heard, spoken_ms)
            reply = await audio_state(page, ".turn.agent audio")
            assert reply["error"] is None and reply["ready"] >= 1 and reply["duration"] > 1, reply

            await expect(page.locator(".turn.caller").first).to_contain_text("opening", ignore_case=True)
            await expect(page.locator("#turns")).to_contain_text(hours.answer)
            await expect(page.locator("#turns")).to_contain_text("decision: hours")
            await expect(page.locator('.stages [data-stage="stt"]').first).to_be_attached()
            await expect(page.locator("#sip-note")).to_have_text("not a SIP call")  # a /ws call
            await expect(page.locator("#timeline")).to_contain_text("UtteranceTranscribed")

            await page.click("#golden")
            status = page.locator("#golden-status")
            await expect(status).to_have_attribute("data-outcome", "ok", timeout=60_000)
            await expect(status).to_contain_text(str(golden / call_id))
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "call-page.png"), full_page=True)
        finally:
            await browser.close()
    assert not errors, errors
    assert (golden / call_id / "facts.jsonl").is_file() and (golden / call_id / "utterance-001.wav").is_file()
    check = await asyncio.to_thread(
        web_stack.cli, "replay", "check", str(golden), "--stt", "whisper", timeout=300
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK: 1 golden calls answer as recorded" in check.stdout
