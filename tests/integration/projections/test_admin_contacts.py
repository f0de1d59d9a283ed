"""`/api/admin/contacts` (and SIP users' display names) over the real broker: config records, 422s."""

from __future__ import annotations

import json

from schemas import models as m
from tests.integration.projections.test_api import anonymous, api, read_config

ALICE = {
    "numbers": ["+49 30 123-456", "alice"],
    "name": "Alice Smith",
    "language": "de-DE",
    "profile": {"customer_no": "C-1001", "tier": "gold"},
}


async def test_contacts_crud_and_refusals(env):
    async with api(env) as client, anonymous(client) as anon:
        assert (await anon.put("/api/admin/contacts/alice", json=ALICE)).status_code == 401
        r = await client.put("/api/admin/contacts/alice", json=ALICE)
        assert r.status_code == 200, r.text
        assert r.json() == {"id": "alice", **ALICE, "enabled": True}
        assert (await client.get("/api/admin/contacts/alice")).json()["profile"] == ALICE["profile"]
        assert [c["id"] for c in (await client.get("/api/admin/contacts")).json()] == ["alice"]
        bad_bodies = [
            {**ALICE, "numbers": []},
            {**ALICE, "numbers": ["sip:alice@example.com"]},  # a user part, not a URI
            {**ALICE, "name": ""},
            {**ALICE, "name": "Eve {caller_name}"},  # no placeholders inside a name
            {**ALICE, "name": "Line\nbreak"},
            {**ALICE, "profile": {"Tier": "gold"}},  # field names are lower-case words
            {**ALICE, "profile": {"tier": {"nested": 1}}},
            {**ALICE, "profile": {f"f{i}": "x" * 100 for i in range(12)}},  # over 1000 characters of JSON
            {**ALICE, "language": "german"},
            {**ALICE, "surprise": True},
        ]
        for body in bad_bodies:
            bad = await client.put("/api/admin/contacts/bad", json=body)
            assert bad.status_code == 422, (body, bad.text)
        assert (await client.get("/api/admin/contacts/bad")).status_code == 404
        # A SIP user's display name is how the agent greets a known phone.
        desk = {"realm": "sentiric", "password": "pw", "display_name": "Front desk"}
        u = await client.put("/api/admin/users/1001", json=desk)
        assert u.status_code == 200 and u.json()["display_name"] == "Front desk"
        records = dict(await read_config(env.kafka, env.topics.config))
        contact = records["contact:alice"]
        assert isinstance(contact, m.Contact) and contact.numbers == ("+49 30 123-456", "alice")
        assert json.loads(contact.profile) == ALICE["profile"] and contact.language == "de-DE"
        assert records["sipuser:1001"].display_name == "Front desk"
        assert "contact:bad" not in records
        assert (await client.delete("/api/admin/contacts/alice")).status_code == 204
        assert (await client.delete("/api/admin/contacts/alice")).status_code == 404
    assert (await read_config(env.kafka, env.topics.config))[-1] == ("contact:alice", None)
