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
