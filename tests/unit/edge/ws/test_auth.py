"""Who may open /ws: Origin allow-list, then a cookie, a bearer header or ?access_token=."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from edge.ws.auth import Refusal, WsAuth
from schemas import models as m
from sentiric.auth import Verifier, derive_session_key, new_token
from sentiric.settings import Settings

NOW = 1_800_000_000.0
ADMIN = "ws-admin-token-0123456789"
ORIGINS = Settings(api_port=8080).ws_origins


def setup(scopes: tuple[str, ...] = ("read",), revoked: bool = False):
    issued = new_token()
    at = datetime.fromtimestamp(NOW - 1, UTC)
    rec = m.ApiToken(
        event_id=uuid.uuid4(), entity_id=issued.token_id, occurred_at=at, source="api", trace_id="t",
        name="ws", secret_sha256="" if revoked else issued.secret_sha256, scopes=scopes, created_at=at,
        revoked=revoked,
    )  # fmt: skip
    verifier = Verifier(
        admin_token=ADMIN, lookup={rec.entity_id: rec}.get, session_key=derive_session_key(ADMIN)
    )
    return WsAuth(verifier, ORIGINS), verifier, issued


def test_default_origins_are_the_apis_own() -> None:
    assert ORIGINS == {
        "http://127.0.0.1:8080", "http://localhost:8080", "https://127.0.0.1:8080", "https://localhost:8080",
    }  # fmt: skip
    assert Settings(ws_allowed_origins="https://voice.example.com/, http://x:1").ws_origins == {
        "https://voice.example.com",
        "http://x:1",
    }


def test_each_credential_opens_it() -> None:
    auth, verifier, issued = setup()
    cookie, _ = verifier.issue_session(verifier.bearer(issued.token, NOW), NOW)
    browser = {"Origin": "http://127.0.0.1:8080", "Cookie": f"a=b; sentiric_session={cookie}"}
    assert auth.check(browser, "caller=web", NOW).via == "session"
    assert auth.check({"Authorization": f"Bearer {issued.token}"}, "", NOW).token_id == issued.token_id
    assert auth.check({}, f"to=100&access_token={issued.token}", NOW).token_id == issued.token_id
    assert auth.check({"Authorization": f"Bearer {ADMIN}"}, "", NOW).allows("admin")


@pytest.mark.parametrize(
    ("headers", "query", "status"),
    [
        ({}, "", 401),  # no credential, no Origin (a script)
        ({"Origin": "http://127.0.0.1:8080"}, "", 401),  # a browser that is not signed in
        ({"Authorization": "Bearer st_0000000000000000_" + "A" * 43}, "", 401),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "", 401),
        ({}, "access_token=wrong", 401),
        ({"Cookie": "sentiric_session=v1.bootstrap.1.AAAA"}, "", 401),
        ({"Origin": "https://evil.example", "Authorization": f"Bearer {ADMIN}"}, "", 403),
        ({"Origin": "http://127.0.0.1:9999", "Authorization": f"Bearer {ADMIN}"}, "", 403),  # other port
        ({"Origin": "null", "Authorization": f"Bearer {ADMIN}"}, "", 403),
        ({}, "&".join(f"k{i}=v" for i in range(40)), 401),  # query flood
    ],
)
def test_refusals(headers: dict[str, str], query: str, status: int) -> None:
    auth, _, _ = setup()
    outcome = auth.check(headers, query, NOW)
    assert isinstance(outcome, Refusal) and outcome.status == status
    assert ("WWW-Authenticate" in outcome.headers) is (status == 401)


def test_a_foreign_origin_is_refused_even_with_a_valid_cookie() -> None:
    auth, verifier, issued = setup()
    cookie, _ = verifier.issue_session(verifier.bearer(issued.token, NOW), NOW)
    outcome = auth.check({"Origin": "http://attacker.test", "Cookie": f"sentiric_session={cookie}"}, "", NOW)
    assert isinstance(outcome, Refusal) and outcome.status == 403


def test_revoked_token_is_refused() -> None:
    auth, _, issued = setup(revoked=True)
    outcome = auth.check({"Authorization": f"Bearer {issued.token}"}, "", NOW)
    assert isinstance(outcome, Refusal) and outcome.status == 401 and "revoked" in outcome.reason
