"""The admin console in headless Chromium on the real stack (Kafka, a streams worker, the /ws gateway,
the API on its own PostgreSQL database).

An operator signs in with their own admin token and, in the console: creates a knowledge entry (a
made-up question and answer; first without phrasings, and the API's 422 shows next to the field), then
a /ws call typing that question gets the new answer; creates a dialplan for a number, a call to it is
served, edits the plan to reject, and the next call is rejected; every kind's form is built, secrets as
password inputs never filled in; the audit tab lists the writes with the operator's name. A read token
issued in the console signs in to the lists without any write button, and its session ends when the
console revokes it. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from websockets.asyncio.client import connect

from edge.ws import protocol as p
from projections.api.app import create_app
from projections.api.services import ApiConfig
from sentiric.eventlog.connection import client_options
from tests.integration.web.conftest import ADMIN_TOKEN, AUTH, WebStack, wait_until
from tests.integration.web.test_ws_gateway import Conversation

ROOT = Path(__file__).parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"
WAIT_S = 180.0
RUN = uuid.uuid4().hex[:8]
QUESTION = f"what colour is the moon over harbour {RUN}"
ANSWER = f"The moon over harbour {RUN} is teal on Tuesdays."
NUMBER = f"console{RUN}"
# The console's tabs and the write-only field of each kind's form (None: it has none).
SECRETS = {"dialplans": None, "users": "password", "trunks": "outbound_password", "knowledge": None,
           "prompts": None, "actions": "secret", "webhooks": "secret", "contacts": None}  # fmt: skip


@pytest.fixture(scope="module")
async def api_url(web_stack: WebStack, postgres_dsn: str) -> AsyncIterator[str]:
    """The API with the console, on a private database, on the port the gateway allows as Origin."""
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute("DROP DATABASE IF EXISTS web_console_it WITH (FORCE)")
    await admin.execute("CREATE DATABASE web_console_it")
    await admin.close()
    config = ApiConfig(
        dsn=postgres_dsn.rsplit("/", 1)[0] + "/web_console_it",
        client=client_options(web_stack.settings),
        admin_token=ADMIN_TOKEN,
        run_webhooks=False,
        run_projector=False,
    )
    port = web_stack.settings.api_port
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def dialplans_from_config(web_stack: WebStack) -> Iterator[None]:
    """The gateway resolves numbers by the dialplans on the config topic (its own follower's table), as
    an edge does, for the test's duration (the shared stack otherwise runs on the built-in plans)."""
    gateway = web_stack.service.gateway
    before = gateway.directory
    gateway.directory = web_stack.service.tokens
    yield
    gateway.directory = before


async def issue(api_url: str, name: str, scopes: list[str]) -> str:
    async with httpx.AsyncClient(base_url=api_url, headers=AUTH) as http:
        r = await http.post("/api/admin/tokens", json={"name": name, "scopes": scopes})
        assert r.status_code == 201, r.text
        token: str = r.json()["token"]
        return token


async def sign_in(browser: Browser, api_url: str, token: str, errors: list[str]) -> Page:
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(f"{api_url}/console")
    await expect(page).to_have_url(f"{api_url}/signin?next=/console")
    await page.fill("#token", token)
    await page.click("#submit")
    await expect(page).to_have_url(re.compile(re.escape(f"{api_url}/console") + r"(#\w+)?$"))  # the tab
    return page


async def gateway_has(stack: WebStack, plan_id: str, action: str) -> None:
    """The gateway's config follower has read the plan as the console last wrote it (the API answered
    once the log acknowledged the record; the follower reads it from there a moment later)."""

    def seen() -> bool:
        plan = stack.service.tokens.plan(plan_id)
        return plan is not None and plan.action == action

    started = time.monotonic()
    await wait_until(seen, f"the gateway reading {plan_id} as {action}", 30, stack.alive)
    # Reported, not asserted (-s shows it): from the console's list showing the saved plan (after the
    # API's acknowledged PUT) to the gateway's follower having it, polled every 0.2 s.
    print(f"console → gateway: {plan_id} as {action} within {time.monotonic() - started:.2f} s")


async def ask(stack: WebStack, to: str, question: str) -> p.Reply:
    """A /ws call to `to`: the greeting, then `question` typed; the agent's answer."""
    async with connect(f"{stack.ws_url}?caller=it-console&to={to}", additional_headers=AUTH) as ws:
        p.SessionInfo.parse(await ws.recv())
        talk = Conversation(ws)
        greeting = await wait_until(lambda: talk.find(p.Reply), "the greeting", WAIT_S, stack.alive)
        await ws.send(json.dumps({"type": "text", "text": question}))
        answer: p.Reply = await wait_until(
            lambda: next((m for m in talk.messages if isinstance(m, p.Reply) and m is not greeting), None),
            f"the answer to {question!r}", WAIT_S, stack.alive,
        )  # fmt: skip
        await ws.send(json.dumps({"type": "hangup"}))
        await asyncio.wait_for(talk.closed.wait(), 30)
        return answer


async def refused(stack: WebStack, to: str) -> tuple[int | None, str, list[Any]]:
    """A /ws call to `to` the gateway ends at once: its close code and reason, and what it sent."""
    async with connect(f"{stack.ws_url}?caller=it-console&to={to}", additional_headers=AUTH) as ws:
        talk = Conversation(ws)
        await asyncio.wait_for(talk.closed.wait(), 30)
        return ws.close_code, ws.close_reason or "", talk.messages


async def test_console_changes_what_the_next_call_does_and_audits_who(
    web_stack: WebStack, api_url: str, dialplans_from_config: None
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    operator = f"console-operator-{RUN}"
    admin_token = await issue(api_url, operator, ["admin"])
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = await sign_in(browser, api_url, admin_token, errors)
            await expect(page.locator("#who")).to_contain_text(operator)

            # A knowledge entry, first without phrasings: the API's 422 shows at that field.
            await page.click("#tab-knowledge")
            await page.click("#new")
            await page.fill("#f-id", f"moon-{RUN}")
            await page.fill("#f-title", "The moon")
            await page.fill("#f-answer", ANSWER)
            await page.click("#save")
            await expect(page.locator("#err-phrasings")).not_to_be_empty()
            await page.screenshot(path=str(ARTIFACTS / "console-422.png"), full_page=True)
            errors.clear()  # the 422 is logged by the browser as a failed request
            await page.fill("#f-phrasings", QUESTION)
            await page.click("#save")
            await expect(page.locator(f'#records tr[data-id="moon-{RUN}"]')).to_contain_text(ANSWER)
            await expect(page.locator("#editor")).to_be_hidden()

            # A dialplan for a number of its own: a call to it is served by the agent, which knows the
            # new answer (the worker follows the config topic).
            await page.click("#tab-dialplans")
            await page.click("#new")
            await page.fill("#f-id", f"plan-{RUN}")
            await page.fill("#f-pattern", NUMBER)  # the edge matches the number exactly (or a prefix*)
            await page.select_option("#f-action", "agent")
            await page.fill("#f-priority", "5")
            await page.click("#save")
            row = page.locator(f'#records tr[data-id="plan-{RUN}"]')
            await expect(row).to_contain_text("agent")
            await gateway_has(web_stack, f"plan-{RUN}", "agent")
            assert (await ask(web_stack, NUMBER, QUESTION)).text == ANSWER

            # Edited to reject: the next call to the number is refused.
            await row.get_by_role("button", name="Edit").click()
            await expect(page.locator("#f-id")).to_have_value(f"plan-{RUN}")
            await expect(page.locator("#f-pattern")).to_have_value(NUMBER)
            await page.select_option("#f-action", "reject")
            await page.click("#save")
            await expect(row).to_contain_text("reject")
            await gateway_has(web_stack, f"plan-{RUN}", "reject")
            code, reason, sent = await refused(web_stack, NUMBER)
            assert (code, reason) == (p.CLOSE_POLICY, "rejected by dialplan")
            assert not [m for m in sent if isinstance(m, p.Reply)]
            await page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)

            # Every kind's form comes from its PUT body; secrets are password inputs, never filled in.
            for tab, secret in SECRETS.items():
                await page.click(f"#tab-{tab}")
                await page.click("#new")
                await expect(page.locator("#fields .field")).not_to_have_count(0)
                if secret is not None:
                    await expect(page.locator(f"#f-{secret}")).to_have_attribute("type", "password")
                await page.click("#cancel")
            await page.click("#tab-users")
            await page.click("#new")
            await page.fill("#f-id", f"alice{RUN}")
            await page.fill("#f-realm", "sentiric")
            await page.fill("#f-password", f"pw-{RUN}")
            await page.click("#save")
            user = page.locator(f'#records tr[data-id="alice{RUN}"]')
            await expect(user).to_contain_text("sentiric")
            await user.get_by_role("button", name="Edit").click()
            await expect(page.locator("#f-realm")).to_have_value("sentiric")
            await expect(page.locator("#f-password")).to_have_value("")
            assert f"pw-{RUN}" not in await page.content()
            await page.click("#cancel")

            # The audit tab: both records, put by the operator (the plan twice).
            await page.click("#tab-audit")
            audit = page.locator("#records tbody tr")
            knowledge = audit.filter(has_text=f"moon-{RUN}")
            plan = audit.filter(has_text=f"plan-{RUN}")
            await expect(knowledge).to_have_count(1)
            await expect(knowledge).to_contain_text(operator)
            await expect(knowledge).to_contain_text("put")
            await expect(plan).to_have_count(2)
            for i in range(2):
                await expect(plan.nth(i)).to_contain_text(operator)
            await page.screenshot(path=str(ARTIFACTS / "console-audit.png"), full_page=True)

            # Delete the knowledge entry: gone from the list, and the audit has the delete.
            await page.click("#tab-knowledge")
            entry = page.locator(f'#records tr[data-id="moon-{RUN}"]')
            await entry.get_by_role("button", name="Delete").click()
            await expect(entry).to_have_count(0)
            await page.click("#tab-audit")
            await expect(knowledge).to_have_count(2)
            await expect(knowledge.first).to_contain_text("delete")

            # A read token issued in the console (shown once), for a read-only session: the lists, no
            # write button, no tokens or audit tab.
            await page.click("#tab-tokens")
            await page.click("#new")
            await page.fill("#f-name", f"console-reader-{RUN}")
            await page.select_option("#f-scopes", ["read"])
            await page.click("#save")
            reader_token = await page.locator("#issued-token").inner_text()
            assert reader_token.startswith("st_")
            reader_row = page.locator("#records tbody tr").filter(has_text=f"console-reader-{RUN}")
            await expect(reader_row).to_contain_text("read")
            reader = await sign_in(browser, api_url, reader_token, errors)
            await reader.click("#tab-dialplans")
            await expect(reader.locator(f'#records tr[data-id="plan-{RUN}"]')).to_contain_text("reject")
            await expect(reader.locator("#new")).to_be_hidden()
            await expect(reader.locator("#records button")).to_have_count(0)
            await expect(reader.locator("#tab-audit")).to_have_count(0)
            await expect(reader.locator("#tab-tokens")).to_have_count(0)
            await expect(reader.locator("#mode")).to_contain_text("read-only")

            # Revoked in the console: the reader's session ends with it.
            await reader_row.get_by_role("button", name="Revoke").click()
            await expect(reader_row).to_contain_text("true")
            await reader.reload()
            await expect(reader).to_have_url(re.compile(re.escape(f"{api_url}/signin")))
        finally:
            await browser.close()
    assert not errors, errors


async def test_tenants_in_the_console_and_the_dashboard(web_stack: WebStack, api_url: str) -> None:
    """The platform admin (the bootstrap token) creates a tenant in the Tenants tab, picks it in the
    header, writes a knowledge entry into it and issues that tenant's admin token; signed in with it,
    the header names the tenant, there is no tenant picker and no Tenants tab, and the lists hold only
    the tenant's own records."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tenant = f"acme{RUN}"
    errors: list[str] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = await sign_in(browser, api_url, ADMIN_TOKEN, errors)
            await expect(page.locator("#tenant")).to_have_text("all tenants")
            await page.click("#tab-tenants")
            await page.click("#new")
            await page.fill("#f-id", tenant)
            await page.fill("#f-name", "Acme Ltd")
            await page.fill("#f-domains", f"{tenant}.example")
            await page.click("#save")
            await expect(page.locator(f'#records tr[data-id="{tenant}"]')).to_contain_text("Acme Ltd")

            # Act in the tenant: the header says so, and what the console writes is the tenant's.
            await page.reload()
            await page.select_option("#tenant-pick", tenant)
            await expect(page.locator("#tenant")).to_have_text(f"tenant: {tenant}")
            await expect(page.locator("#mode")).to_contain_text(f"tenant {tenant}")
            await page.click("#tab-knowledge")
            await page.click("#new")
            await page.fill("#f-id", f"{tenant}-hours")
            await page.fill("#f-title", "Hours")
            await page.fill("#f-phrasings", "when are you open")
            await page.fill("#f-answer", "Nine to five.")
            await page.click("#save")
            await expect(page.locator(f'#records tr[data-id="{tenant}-hours"]')).to_be_visible()
            await page.click("#tab-tokens")
            await page.click("#new")
            await page.fill("#f-name", f"{tenant}-admin")
            await page.select_option("#f-scopes", ["admin"])
            await page.click("#save")
            token = await page.locator("#issued-token").inner_text()
            row = page.locator("#records tbody tr").filter(has_text=f"{tenant}-admin")
            await expect(row).to_contain_text(tenant)  # the token's tenant column
            await page.screenshot(path=str(ARTIFACTS / "console-tenants.png"), full_page=True)
            async with httpx.AsyncClient(base_url=api_url, headers=AUTH) as http:
                entry = (await http.get(f"/api/admin/knowledge/{tenant}-hours")).json()
                assert entry["title"] == "Hours"
                mine = await http.get("/api/admin/knowledge", params={"tenant": tenant})
                assert [k["id"] for k in mine.json()] == [f"{tenant}-hours"]

            # The tenant's own admin: its tenant in the header, no picker, no Tenants tab, its records.
            own = await sign_in(browser, api_url, token, errors)
            await expect(own.locator("#tenant")).to_have_text(f"tenant: {tenant}")
            await expect(own.locator("#tenant-pick")).to_have_count(0)
            await expect(own.locator("#tab-tenants")).to_have_count(0)
            await own.click("#tab-knowledge")
            await expect(own.locator("#records tbody tr")).to_have_count(1)
            await expect(own.locator(f'#records tr[data-id="{tenant}-hours"]')).to_be_visible()
            await own.goto(f"{api_url}/")
            await expect(own.locator("#tenant")).to_have_text(f"tenant: {tenant}")
            await own.screenshot(path=str(ARTIFACTS / "dashboard-tenant.png"), full_page=True)
        finally:
            await browser.close()
    assert not errors, errors
