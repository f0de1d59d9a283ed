"""`sentiric token`: the requests it sends the API."""

import json

import httpx

from projections.token_cli import call_api, create_body
from sentiric.cli import build_parser
from sentiric.settings import Settings


def test_create_sends_the_tenant_and_the_scopes_with_the_admin_token() -> None:
    args = build_parser().parse_args(
        ["token", "create", "acme-ops", "--scopes", "read,admin", "--tenant", "acme"]
    )
    body = create_body(args)
    assert body == {"name": "acme-ops", "scopes": ["read", "admin"], "tenant": "acme"}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"id": "0123456789abcdef", "token": "st_x", "tenant": "acme"})

    settings = Settings(admin_token="tok-0123456789abcdef", api_port=8124)
    status, answer = call_api(
        settings, "POST", "/api/admin/tokens", body, transport=httpx.MockTransport(handler)
    )
    assert status == 201 and answer["tenant"] == "acme"
    (request,) = seen
    assert str(request.url) == "http://127.0.0.1:8124/api/admin/tokens"
    assert request.headers["authorization"] == "Bearer tok-0123456789abcdef"
    assert json.loads(request.content) == body


def test_default_scopes_and_revoke() -> None:
    args = build_parser().parse_args(["token", "create", "reporting"])
    assert create_body(args) == {"name": "reporting", "scopes": ["read"]}
    revoke = build_parser().parse_args(["token", "revoke", "0123456789abcdef"])
    assert revoke.id == "0123456789abcdef" and revoke.token_command == "revoke"
