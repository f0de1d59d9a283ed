"""The audit trail on the real broker: admin writes by a named token (puts and a delete) are listed by
`GET /api/admin/audit` with that name, newest first; a read token reads config records but can
neither write them nor read the trail."""

from __future__ import annotations

from typing import Any

from tests.integration.projections.test_api import api


async def test_admin_writes_are_audited_with_their_subject(env: Any) -> None:
    async with api(env, run_projector=False, run_webhooks=False) as client:
        issued = []
        for name, scopes in (("auditor", ["admin"]), ("looker", ["read"])):
            r = await client.post("/api/admin/tokens", json={"name": name, "scopes": scopes})
            assert r.status_code == 201, r.text
            issued.append({"Authorization": f"Bearer {r.json()['token']}"})
        auditor, looker = issued
        plan = {"pattern": "4242", "action": "agent"}
        entry = {"title": "Parking", "phrasings": ["where do I park"], "answer": "Behind the shop."}
        assert (
            await client.put("/api/admin/dialplans/audit-plan", json=plan, headers=auditor)
        ).status_code == 200
        assert (
            await client.put("/api/admin/knowledge/parking", json=entry, headers=auditor)
        ).status_code == 200
        assert (await client.delete("/api/admin/dialplans/audit-plan", headers=auditor)).status_code == 204

        trail = (await client.get("/api/admin/audit", headers=auditor)).json()
        newest = [(e["action"], e["kind"], e["id"], e["by"]) for e in trail[:3]]
        assert newest == [
            ("delete", "dialplan", "audit-plan", "auditor"),
            ("put", "knowledgeentry", "parking", "auditor"),
            ("put", "dialplan", "audit-plan", "auditor"),
        ]
        assert [e["at"] for e in trail] == sorted((e["at"] for e in trail), reverse=True)
        tokens = [e for e in trail if e["kind"] == "apitoken"]
        assert len(tokens) == 2 and all(e["by"] for e in tokens)  # issued by the bootstrap admin
        plans = (await client.get("/api/admin/audit?kind=dialplan&limit=5", headers=auditor)).json()
        assert [e["action"] for e in plans] == ["delete", "put"]
        assert (await client.get("/api/admin/audit?kind=Bad!", headers=auditor)).status_code == 422

        # A read token: the config lists (never a secret), no write, no trail.
        listed = await client.get("/api/admin/knowledge", headers=looker)
        assert listed.status_code == 200 and [k["id"] for k in listed.json()] == ["parking"]
        assert (await client.put("/api/admin/knowledge/x", json=entry, headers=looker)).status_code == 403
        assert (await client.delete("/api/admin/knowledge/parking", headers=looker)).status_code == 403
        assert (await client.get("/api/admin/audit", headers=looker)).status_code == 403
        assert (await client.get("/api/admin/tokens", headers=looker)).status_code == 403
