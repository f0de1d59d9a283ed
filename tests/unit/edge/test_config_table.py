"""ConfigTable: dialplans and users by key, tombstones delete, bad records are skipped."""

import uuid
from datetime import UTC, datetime

from edge.config_table import ConfigTable
from schemas import models

COMMON = {"occurred_at": datetime.now(UTC), "source": "api", "trace_id": "t"}


def dialplan(entity_id: str, **kw: object) -> models.Dialplan:
    fields = {"pattern": "*", "action": "agent", **kw}
    return models.Dialplan(event_id=uuid.uuid4(), entity_id=entity_id, **COMMON, **fields)  # type: ignore[arg-type]


def test_dialplans_users_and_tombstones() -> None:
    table = ConfigTable()
    table.apply("dialplan:a", dialplan("a", pattern="1*", require_auth=True))
    table.apply("dialplan:bad", dialplan("bad", action="dance"))
    user = models.SipUser(
        event_id=uuid.uuid4(), entity_id="u1", username="alice", realm="sentiric",
        ha1_md5="m", ha1_sha256="s", **COMMON,
    )  # fmt: skip
    table.apply("sipuser:u1", user)
    table.apply("knowledge:k1", object())  # other kinds are not the edge's business
    assert [p.dialplan_id for p in table.dialplans()] == ["a"]
    assert next(iter(table.dialplans())).require_auth
    found = table.user("alice", "sentiric")
    assert found is not None and found.ha1 == {"MD5": "m", "SHA-256": "s"}
    table.apply("sipuser:u1", None)
    table.apply("dialplan:a", None)
    assert table.user("alice", "sentiric") is None and list(table.dialplans()) == []


def trunk(entity_id: str, sources: tuple[str, ...], **kw: object) -> models.Trunk:
    return models.Trunk(
        event_id=uuid.uuid4(),
        entity_id=entity_id,
        name=entity_id,
        sources=sources,
        **COMMON,
        **kw,  # type: ignore[arg-type]
    )


def test_trunks_match_by_source_most_specific_first_and_tombstones_delete() -> None:
    table = ConfigTable()
    assert table.trunk_for("192.0.2.7") is None
    table.apply("trunk:wide", trunk("wide", ("192.0.2.0/24",)))
    table.apply("trunk:narrow", trunk("narrow", ("192.0.2.0/28", "2001:db8::/32"), media_anywhere=True))
    table.apply("trunk:off", trunk("off", ("198.51.100.0/24",), enabled=False))
    table.apply("trunk:bad", trunk("bad", ("203.0.113.0/33",)))  # a bad CIDR: ignored, not trusted
    narrow = table.trunk_for("192.0.2.7")
    assert narrow is not None and narrow.trunk_id == "narrow" and narrow.media_anywhere
    assert table.trunk_for("192.0.2.200").trunk_id == "wide"  # type: ignore[union-attr]
    assert table.trunk_for("2001:db8::5").trunk_id == "narrow"  # type: ignore[union-attr]
    assert table.trunk_for("198.51.100.1") is None and table.trunk_for("203.0.113.1") is None
    table.apply("trunk:narrow", None)
    assert table.trunk_for("192.0.2.7").trunk_id == "wide"  # type: ignore[union-attr]


def test_dialplan_access_is_read_and_absent_in_old_records() -> None:
    table = ConfigTable()
    table.apply("dialplan:t", dialplan("t", access="trunks_only"))
    table.apply("dialplan:o", dialplan("o", pattern="2*"))
    plans = {p.dialplan_id: p for p in table.dialplans()}
    assert plans["t"].access == "trunks_only" and plans["o"].access is None


def test_api_tokens_by_id_and_revocation() -> None:
    table = ConfigTable()
    token = models.ApiToken(
        event_id=uuid.uuid4(), entity_id="0123456789abcdef", name="ci", secret_sha256="ab" * 32,
        scopes=("read",), created_at=COMMON["occurred_at"], **COMMON,
    )  # fmt: skip
    table.apply("apitoken:0123456789abcdef", token)
    assert table.api_token("0123456789abcdef") is token and table.api_token("other") is None
    revoked = models.ApiToken(**{**token.to_record(), "secret_sha256": "", "revoked": True})
    table.apply("apitoken:0123456789abcdef", revoked)
    assert table.api_token("0123456789abcdef").revoked
    table.apply("apitoken:0123456789abcdef", None)
    assert table.api_token("0123456789abcdef") is None


def test_tenants_and_the_tenant_of_plans_users_and_contacts() -> None:
    table = ConfigTable()
    table.apply("dialplan:a", dialplan("a", pattern="1*", tenant="acme"))
    table.apply("dialplan:old", dialplan("old"))  # written before tenants: the default tenant's
    assert {p.dialplan_id: p.tenant for p in table.dialplans()} == {"a": "acme", "old": "default"}
    acme = models.Tenant(
        event_id=uuid.uuid4(), entity_id="acme", name="Acme", domains=["Acme.Example"], language="de",
        **COMMON,
    )  # fmt: skip
    table.apply("tenant:acme", acme)
    got = table.tenants()["acme"]
    assert (got.name, got.domains, got.language, got.enabled) == ("Acme", ("acme.example",), "de", True)
    user = models.SipUser(
        event_id=uuid.uuid4(), entity_id="u1", username="alice", realm="sentiric",
        ha1_md5="m", ha1_sha256="s", tenant="acme", display_name="Alice", **COMMON,
    )  # fmt: skip
    table.apply("sipuser:u1", user)
    assert table.user("alice", "sentiric").tenant == "acme"  # type: ignore[union-attr]
    assert table.caller("alice", "acme") is not None and table.caller("alice", "beta") is None
    table.apply("tenant:acme", None)
    assert dict(table.tenants()) == {}
