"""The edge's /metrics wants a read token, like the API's."""

from __future__ import annotations

from edge.metrics_http import respond
from sentiric.auth import Verifier, derive_session_key

ADMIN = "metrics-admin-token-0123456789"
VERIFIER = Verifier(admin_token=ADMIN, lookup=lambda token_id: None, session_key=derive_session_key(ADMIN))


def head(*lines: str) -> bytes:
    return "\r\n".join(("GET /metrics HTTP/1.1", "Host: edge", *lines)).encode() + b"\r\n\r\n"


def test_token_required() -> None:
    ok = respond(head(f"Authorization: Bearer {ADMIN}"), VERIFIER, 0.0, metrics=lambda: b"m 1\n")
    assert ok.startswith(b"HTTP/1.0 200 OK\r\n") and ok.endswith(b"\r\n\r\nm 1\n")
    for lines in (
        (),
        ("Authorization: Bearer wrong",),
        ("Authorization: Basic eDp5",),
        ("X: Bearer " + ADMIN,),
    ):
        refused = respond(head(*lines), VERIFIER, 0.0, metrics=lambda: b"secret 1\n")
        assert refused.startswith(b"HTTP/1.0 401 ") and b"WWW-Authenticate: Bearer" in refused
        assert b"secret" not in refused
