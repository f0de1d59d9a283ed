"""`sentiric call <number|uri>`: place an outbound call through the REST API (`POST /api/calls`).

It talks to the local API with the admin token of the settings (`SENTIRIC_ADMIN_TOKEN`), over HTTPS
when the API serves it (the certificate of `api_tls_cert_file` is the trust anchor), and prints the
call id: follow the call with `sentiric replay call <id>` or `GET /api/calls/<id>`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from sentiric.settings import Settings, get_settings

TIMEOUT_S = 15.0


def api_base(settings: Settings) -> str:
    host = settings.api_host if settings.api_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if settings.api_tls else 'http'}://{host}:{settings.api_port}"


def request_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"to": args.to, "ring_timeout_s": args.ring_timeout}
    for name in ("trunk", "dialplan", "language", "edge"):
        value = getattr(args, name)
        if value is not None:
            body[name] = value
    if args.from_user:
        body["from_user"] = args.from_user
    return body


def originate(
    settings: Settings,
    body: dict[str, Any],
    *,
    base: str | None = None,
    transport: httpx.BaseTransport | None = None,
    tenant: str | None = None,
) -> tuple[int, Any]:
    """POST the call (as ``tenant``'s, when given: the admin token is the platform's); returns (HTTP
    status, decoded JSON answer)."""
    verify: Any = str(settings.api_tls_cert_file) if settings.api_tls and settings.api_tls_cert_file else True
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    if tenant is not None:
        headers["X-Sentiric-Tenant"] = tenant
    with httpx.Client(
        base_url=base or api_base(settings), verify=verify, transport=transport, timeout=TIMEOUT_S
    ) as c:
        r = c.post("/api/calls", json=body, headers=headers)
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, {"error": r.text[:200]}


def _run(args: argparse.Namespace) -> int:
    try:
        status, answer = originate(get_settings(), request_body(args), base=args.api, tenant=args.tenant)
    except httpx.HTTPError as exc:
        print(f"sentiric call: the API is not reachable: {exc}", file=sys.stderr)
        return 1
    if status != 202:
        print(f"sentiric call: refused ({status}): {json.dumps(answer)}", file=sys.stderr)
        return 1
    print(json.dumps(answer))
    return 0


def add_parser(sub: Any) -> None:
    call = sub.add_parser(
        "call", help="place an outbound call (POST /api/calls): a number via a trunk, or a sip: URI"
    )
    call.add_argument("to", help="a sip: URI (called directly) or a number (needs --trunk)")
    call.add_argument("--trunk", help="trunk id: its outbound address, credentials and limits")
    call.add_argument("--dialplan", help="dialplan id whose agent settings the call runs with")
    call.add_argument("--language", help="BCP 47 language of the agent, e.g. tr-TR")
    call.add_argument("--from-user", dest="from_user", help="caller id (user part of our From)")
    call.add_argument(
        "--ring-timeout", dest="ring_timeout", type=int, default=30, help="seconds (default 30)"
    )
    call.add_argument("--edge", help="edge node id to place the call (default: the API's)")
    call.add_argument("--tenant", help="the tenant the call is placed for (its trunk, dialplan, knowledge)")
    call.add_argument("--api", help="API base URL (default: from the settings)")
    call.set_defaults(func=_run)
