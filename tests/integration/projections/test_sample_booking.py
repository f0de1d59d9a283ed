"""The sample booking endpoint and the sample action, over the real broker and PostgreSQL."""

from __future__ import annotations

import json

from projections.api.sample import SAMPLE_ACTION_ID
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
        # the list needs the read scope
        assert (await anon.get("/api/sample/bookings")).status_code == 401
        rows = (await client.get("/api/sample/bookings")).json()
        assert [(b["booking_id"], b["name"], b["call_id"]) for b in rows] == [
            (out["booking_id"], "Alice Smith", "call-1")
        ]
    # a restart finds the action on the config topic and creates none
    async with api(env, sample_action_url=URL) as client:
        view = client.app.state.services.view  # type: ignore[attr-defined]
        await view.wait_ready()
        assert (await _found(view)).secret == action.secret
    records = [k for k, _ in await read_config(env.kafka, env.topics.config)]
    assert records.count(f"action:{SAMPLE_ACTION_ID}") == 1


async def _found(view) -> m.Action | None:
    return view.get(m.Action, SAMPLE_ACTION_ID)
