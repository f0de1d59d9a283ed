"""`/api/admin/actions` over the real broker: CRUD as config records, 422 on bad bodies and endpoints."""

from __future__ import annotations

from schemas import models as m
from tests.integration.projections.test_api import anonymous, api, read_config

SAMPLE_URL = "http://127.0.0.1:8080/api/sample/bookings"
BOOK = {
    "name": "book_service",
    "description": "book a service appointment",
    "parameters": {
        "type": "object",
        "properties": {"date": {"type": "string"}, "time": {"type": "string"}, "name": {"type": "string"}},
        "required": ["date", "time", "name"],
    },
    "url": SAMPLE_URL,
    "secret": "sample-secret-0123456789",
    "triggers": ["book a service", "make an appointment"],
}


async def test_actions_crud_and_refusals(env):
    async with api(env, sample_action_url=SAMPLE_URL) as client, anonymous(client) as anon:
        assert (await anon.put("/api/admin/actions/book", json=BOOK)).status_code == 401
        r = await client.put("/api/admin/actions/book", json=BOOK)
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["id"] == "book" and out["parameters"]["required"] == ["date", "time", "name"]
        assert "secret" not in out and out["timeout_s"] == 5.0 and out["retries"] == 1
        listed = [a["id"] for a in (await client.get("/api/admin/actions")).json()]
        assert "book" in listed  # (with the sample action, created on first run with sample_action_url)
        # Bad bodies: 422 with a reason, nothing written.
        bad_bodies = [
            {**BOOK, "parameters": {"type": "string"}},  # not an object schema
            {**BOOK, "parameters": {"type": "object", "properties": {"x": {"type": 5}}}},  # not a schema
            {**BOOK, "name": "book service"},
            {**BOOK, "secret": "short"},
            {**BOOK, "triggers": []},
            {**BOOK, "timeout_s": 0},
            {**BOOK, "surprise": True},
            {**BOOK, "url": "http://127.0.0.1:9/other"},  # loopback, not the sample endpoint, not https
            {**BOOK, "url": "https://127.0.0.1:9/book"},  # https but loopback
            {**BOOK, "url": "https://10.1.2.3/book"},  # private range
        ]
        for body in bad_bodies:
            bad = await client.put("/api/admin/actions/bad", json=body)
            assert bad.status_code == 422, (body, bad.text)
            assert bad.json()["detail"]
        assert (await client.get("/api/admin/actions/bad")).status_code == 404
        records = dict(await read_config(env.kafka, env.topics.config))
        assert isinstance(records["action:book"], m.Action)
        assert records["action:book"].secret == BOOK["secret"]
        assert records["action:book"].triggers == ("book a service", "make an appointment")
        assert "action:bad" not in records
        assert (await client.delete("/api/admin/actions/book")).status_code == 204
        assert (await client.delete("/api/admin/actions/book")).status_code == 404
    assert (await read_config(env.kafka, env.topics.config))[-1] == ("action:book", None)
