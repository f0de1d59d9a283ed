"""`sentiric call`: the request it sends the API and how it reports the answer."""

import json

import httpx

from projections.call_cli import api_base, originate, request_body
from sentiric.cli import build_parser
from sentiric.settings import Settings


def test_parser_builds_the_body_and_the_request_carries_the_admin_token() -> None:
    args = build_parser().parse_args(["call", "+4930123", "--trunk", "carrier", "--language", "tr-TR"])
    body = request_body(args)
    assert body == {"to": "+4930123", "ring_timeout_s": 30, "trunk": "carrier", "language": "tr-TR"}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            202, json={"call_id": "c1", "to_uri": "sip:+4930123@192.0.2.5:5060", "edge": "edge-1"}
        )

    settings = Settings(admin_token="tok-0123456789abcdef", api_port=8123)
    status, answer = originate(settings, body, transport=httpx.MockTransport(handler))
    assert status == 202 and answer["call_id"] == "c1"
    (request,) = seen
    assert str(request.url) == "http://127.0.0.1:8123/api/calls"
    assert request.headers["authorization"] == "Bearer tok-0123456789abcdef"
    assert json.loads(request.content) == body


def test_api_base_for_a_wildcard_host() -> None:
    assert api_base(Settings(api_host="0.0.0.0", api_port=9000)) == "http://127.0.0.1:9000"


def test_a_call_for_a_tenant_names_it() -> None:
    args = build_parser().parse_args(["call", "sip:100@192.0.2.9", "--tenant", "acme"])
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"call_id": "c2", "to_uri": "sip:100@192.0.2.9", "edge": "edge-1"})

    settings = Settings(admin_token="tok-0123456789abcdef")
    originate(settings, request_body(args), transport=httpx.MockTransport(handler), tenant=args.tenant)
    assert seen[0].headers["x-sentiric-tenant"] == "acme"
