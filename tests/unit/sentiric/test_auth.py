"""Tokens and session cookies: what authenticates, and everything that must not."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas import models as m
from sentiric.auth import (
    BOOTSTRAP_ID,
    AuthError,
    Verifier,
    bearer_token,
    cookie_value,
    derive_session_key,
    new_token,
    parse_token,
)

NOW = 1_800_000_000.0
ADMIN = "bootstrap-admin-token-0123456789"


def record(issued, *, scopes=("read",), expires_at=None, revoked=False, name="ci") -> m.ApiToken:
    at = datetime.fromtimestamp(NOW - 60, UTC)
    return m.ApiToken(
        event_id=uuid.uuid4(), entity_id=issued.token_id, occurred_at=at, source="api", trace_id="t",
        name=name, secret_sha256="" if revoked else issued.secret_sha256, scopes=tuple(scopes),
        created_at=at, expires_at=expires_at, revoked=revoked,
    )  # fmt: skip


def verifier(*records: m.ApiToken, admin: str = ADMIN, secret: str | None = None) -> Verifier:
    table = {r.entity_id: r for r in records}
    return Verifier(admin_token=admin, lookup=table.get, session_key=derive_session_key(admin, secret))


def test_token_format_and_parse() -> None:
    issued = new_token()
    assert issued.token.startswith(f"st_{issued.token_id}_") and len(issued.token_id) == 16
    token_id, secret = parse_token(issued.token)
    assert token_id == issued.token_id
    assert hashlib.sha256(secret.encode()).hexdigest() == issued.secret_sha256
    assert issued.secret_sha256 not in issued.token and new_token().token != issued.token
    for bad in ("", "st_", f"st_{issued.token_id}", issued.token + "x", issued.token.upper(), "Bearer x"):
        assert parse_token(bad) is None


def test_issued_token_bootstrap_and_scopes() -> None:
    reader, admin = new_token(), new_token()
    v = verifier(record(reader), record(admin, scopes=("admin",), name="ops"))
    p = v.bearer(reader.token, NOW)
    assert (p.token_id, p.name, p.via) == (reader.token_id, "ci", "bearer")
    assert p.allows("read") and not p.allows("admin")
    ops = v.bearer(admin.token, NOW)
    assert ops.allows("admin") and ops.allows("read")  # admin includes read
    boot = v.bearer(ADMIN, NOW)
    assert boot.token_id == BOOTSTRAP_ID and boot.allows("admin")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong secret", "invalid token"),
        ("unknown id", "invalid token"),
        ("revoked", "token revoked"),
        ("expired", "token expired"),
        ("garbage", "invalid token"),
        ("admin prefix", "invalid token"),
    ],
)
def test_tokens_that_do_not_authenticate(case: str, reason: str) -> None:
    issued = new_token()
    expired_at = datetime.fromtimestamp(NOW, UTC)  # expiry is exclusive: at NOW it has expired
    records = {
        "wrong secret": record(issued),
        "unknown id": record(new_token()),
        "revoked": record(issued, revoked=True),
        "expired": record(issued, expires_at=expired_at),
        "garbage": record(issued),
        "admin prefix": record(issued),
    }
    token = {
        "wrong secret": issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B"),
        "garbage": "nope",
        "admin prefix": ADMIN[:-1],
    }.get(case, issued.token)
    with pytest.raises(AuthError) as refused:
        verifier(records[case]).bearer(token, NOW)
    assert refused.value.reason == reason


def test_revoked_record_with_the_old_hash_still_refused() -> None:
    issued = new_token()
    kept = dataclasses.replace(record(issued), revoked=True)  # even if a writer forgot to clear the hash
    with pytest.raises(AuthError, match="revoked"):
        verifier(kept).bearer(issued.token, NOW)


def test_session_round_trip_and_token_expiry_caps_it() -> None:
    issued = new_token()
    soon = datetime.fromtimestamp(NOW + 600, UTC)
    v = verifier(record(issued, expires_at=soon))
    cookie, expires = v.issue_session(v.bearer(issued.token, NOW), NOW)
    assert expires == int(NOW + 600)  # the token expires before the 12 h session would
    assert issued.token not in cookie and issued.secret_sha256 not in cookie
    p = v.session(cookie, NOW + 10)
    assert (p.token_id, p.via) == (issued.token_id, "session")
    with pytest.raises(AuthError):
        v.session(cookie, NOW + 600)


def test_session_dies_with_its_token_and_with_tampering() -> None:
    issued = new_token()
    v = verifier(record(issued))
    cookie, expires = v.issue_session(v.bearer(issued.token, NOW), NOW)
    assert expires == int(NOW + 12 * 3600)
    with pytest.raises(AuthError, match="session expired"):
        v.session(cookie, expires)
    revoked = verifier(record(issued, revoked=True))
    with pytest.raises(AuthError, match="revoked"):
        revoked.session(cookie, NOW + 1)
    head, _, mac = cookie.rpartition(".")
    longer = head.rsplit(".", 1)[0] + f".{expires + 3600}"  # a later expiry, the same MAC
    assert longer != head
    for forged in (f"{longer}.{mac}", f"{head}.{mac[::-1]}", cookie + "A", cookie.replace("v1.", "v2.")):
        with pytest.raises(AuthError):
            v.session(forged, NOW + 1)
    other_key = verifier(record(issued), secret="another-session-secret")
    with pytest.raises(AuthError, match="invalid session"):
        other_key.session(cookie, NOW + 1)


def test_bootstrap_session_ends_when_the_admin_token_changes() -> None:
    v = verifier(secret="fixed-session-secret")
    cookie, _ = v.issue_session(v.bearer(ADMIN, NOW), NOW)
    assert v.session(cookie, NOW + 1).allows("admin")
    rotated = verifier(admin="a-new-admin-token-9876543210", secret="fixed-session-secret")
    with pytest.raises(AuthError):
        rotated.session(cookie, NOW + 1)


def test_api_and_edge_derive_the_same_session_key() -> None:
    assert derive_session_key(ADMIN) == derive_session_key(ADMIN)
    assert derive_session_key(ADMIN) != derive_session_key("other")
    assert derive_session_key(ADMIN, "explicit") == b"explicit"


def test_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    for bad in (None, "", "Bearer", "Bearer ", "Basic abc", "abc"):
        assert bearer_token(bad) is None
    header = 'theme=dark; sentiric_session="v1.x"; other=1'
    assert cookie_value(header) == "v1.x"
    assert cookie_value("sentiric_sessionX=1; a=b") is None
    assert cookie_value(None) is None


@given(st.text(max_size=120))
def test_nothing_random_authenticates(text: str) -> None:
    issued = new_token()
    v = verifier(record(issued))
    if text in (ADMIN, issued.token):
        return
    with pytest.raises(AuthError):
        v.bearer(text, NOW)
    with pytest.raises(AuthError):
        v.session(text, NOW)


# --- tenants (issue 15) ---


def test_a_token_stands_for_its_tenant_and_sessions_keep_it() -> None:
    issued = new_token()
    rec = dataclasses.replace(record(issued, scopes=("admin",)), tenant="acme")
    v = verifier(rec)
    principal = v.bearer(issued.token, NOW)
    assert principal.tenant == "acme" and not principal.platform
    cookie, _ = v.issue_session(principal, NOW)
    assert v.session(cookie, NOW).tenant == "acme"


def test_platform_includes_admin_and_read_and_admin_never_gives_platform() -> None:
    from sentiric.auth import ADMIN as ADMIN_SCOPE
    from sentiric.auth import PLATFORM, READ, Principal

    admin = Principal("t", "n", frozenset({ADMIN_SCOPE}), "bearer", "acme")
    assert admin.allows(READ) and admin.allows(ADMIN_SCOPE) and not admin.allows(PLATFORM)
    platform = Principal("t", "n", frozenset({PLATFORM}), "bearer")
    assert platform.allows(READ) and platform.allows(ADMIN_SCOPE) and platform.allows(PLATFORM)
    bootstrap = verifier().bearer(ADMIN, NOW)
    assert bootstrap.platform and bootstrap.tenant == "default"


def test_a_disabled_tenants_token_is_refused() -> None:
    issued = new_token()
    rec = dataclasses.replace(record(issued), tenant="acme")
    v = Verifier(
        admin_token=ADMIN,
        lookup={rec.entity_id: rec}.get,
        session_key=derive_session_key(ADMIN),
        tenant_enabled=lambda tenant: tenant != "acme",
    )
    with pytest.raises(AuthError, match="tenant is disabled"):
        v.bearer(issued.token, NOW)
