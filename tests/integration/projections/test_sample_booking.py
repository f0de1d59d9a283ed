"""The sample booking endpoint and the sample action, over the real broker and PostgreSQL."""

from __future__ import annotations

import json

from projections.api.sample import ACTION_HEADER, SAMPLE_ACTION_ID, SAMPLE_ACTION_TR_ID
from projections.webhooks import SIGNATURE_HEADER, sign
from schemas import models as m
from tests.integration.projections.test_api import anonymous, api, read_config, wait_for

URL = "http://127.0.0.1:9/api/sample/bookings"  # as `sentiric up` sets it; the test calls in-process


def booking(request_id: str = "call-1:u-3:book-service") -> bytes:
    args = {"date": "2026-12-06", "time": "10:00", "name": "Alice Smith"}
    body = {
        "action": "book_service_appointment",
        "request_id": request_id,
        "call_id": "call-1",
        "arguments": args,
    }
    return json.dumps(body).encode()


async def test_first_run_creates_the_sample_action_and_bookings_are_signed_and_idempotent(env):
    async with api(env, sample_action_url=URL) as client, anonymous(client) as anon:
        view = client.app.state.services.view  # type: ignore[attr-defined]
        action = await wait_for(lambda: _found(view))
        assert action.url == URL and len(action.secret) >= 32
        assert json.loads(action.parameters)["required"] == ["date", "time", "name"]
        body = booking()
        signed = {SIGNATURE_HEADER: sign(body, action.secret), "Content-Type": "application/json"}
        first = await anon.post("/api/sample/bookings", content=body, headers=signed)
        assert first.status_code == 200, first.text
        out = first.json()
        assert (out["date"], out["time"], out["name"]) == ("2026-12-06", "10:00", "Alice Smith")
        again = await anon.post("/api/sample/bookings", content=body, headers=signed)
        assert again.json()["booking_id"] == out["booking_id"]  # a retried request books once
        # no signature, a wrong one, a bad body: refused, nothing booked
        assert (await anon.post("/api/sample/bookings", content=body)).status_code == 401
        wrong = {SIGNATURE_HEADER: sign(body, "another-secret-0123456789")}
        assert (await anon.post("/api/sample/bookings", content=body, headers=wrong)).status_code == 401
        bad = json.dumps({"request_id": "x", "call_id": "c", "arguments": {"date": "tomorrow"}}).encode()
        r = await anon.post(
            "/api/sample/bookings", content=bad, headers={SIGNATURE_HEADER: sign(bad, action.secret)}
        )
        assert r.status_code == 422 and r.json()["detail"]
        # the Turkish sample action, created with it: requests naming it are signed with its own secret
        tr = await wait_for(lambda: _found(view, SAMPLE_ACTION_TR_ID))
        assert tr.language == "tr-TR" and tr.url == URL and tr.secret != action.secret
        tr_body = booking("call-1:u-5:book-service-tr")
        named = {ACTION_HEADER: SAMPLE_ACTION_TR_ID, "Content-Type": "application/json"}
        other = await anon.post(
            "/api/sample/bookings",
            content=tr_body,
            headers={**named, SIGNATURE_HEADER: sign(tr_body, action.secret)},
        )
        assert other.status_code == 401  # the English action's secret does not sign for the Turkish one
        ok = await anon.post(
            "/api/sample/bookings",
            content=tr_body,
            headers={**named, SIGNATURE_HEADER: sign(tr_body, tr.secret)},
        )
        assert ok.status_code == 200, ok.text
        unknown = {ACTION_HEADER: "no-such-action", SIGNATURE_HEADER: sign(tr_body, tr.secret)}
        assert (await anon.post("/api/sample/bookings", content=tr_body, headers=unknown)).status_code == 404
        # the list needs the read scope
        assert (await anon.get("/api/sample/bookings")).status_code == 401
        rows = (await client.get("/api/sample/bookings")).json()
        assert sorted((b["booking_id"], b["name"], b["call_id"]) for b in rows) == sorted(
            [(out["booking_id"], "Alice Smith", "call-1"), (ok.json()["booking_id"], "Alice Smith", "call-1")]
        )
    # a restart finds the action on the config topic and creates none
    async with api(env, sample_action_url=URL) as client:
        view = client.app.state.services.view  # type: ignore[attr-defined]
        await view.wait_ready()
        assert (await _found(view)).secret == action.secret
    records = [k for k, _ in await read_config(env.kafka, env.topics.config)]
    assert records.count(f"action:{SAMPLE_ACTION_ID}") == 1


async def _found(view, entity_id: str = SAMPLE_ACTION_ID) -> m.Action | None:
    return view.get(m.Action, entity_id)
