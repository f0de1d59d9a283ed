"""`sentiric token create|list|revoke`: API tokens through the REST API (`/api/admin/tokens`).

It talks to the local API with the settings' admin token (`SENTIRIC_ADMIN_TOKEN`, the platform
admin), as `sentiric call` does. `create NAME --scopes read,admin --tenant acme` issues a token of that
tenant and prints it once (only its SHA-256 is kept); without `--tenant` the token is the default
tenant's. `platform` in `--scopes` makes another platform admin.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from projections.call_cli import TIMEOUT_S, api_base
from sentiric.settings import Settings, get_settings


def create_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": args.name,
        "scopes": [s.strip() for s in args.scopes.split(",") if s.strip()],
    }
    if args.tenant is not None:
        body["tenant"] = args.tenant
    if args.expires_at is not None:
        body["expires_at"] = args.expires_at
    return body


def call_api(
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    base: str | None = None,
    transport: httpx.BaseTransport | None = None,
) -> tuple[int, Any]:
    """One request with the admin token; returns (HTTP status, decoded JSON answer or None)."""
    verify: Any = str(settings.api_tls_cert_file) if settings.api_tls and settings.api_tls_cert_file else True
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    with httpx.Client(
        base_url=base or api_base(settings), verify=verify, transport=transport, timeout=TIMEOUT_S
    ) as c:
        r = c.request(method, path, json=body, headers=headers)
    if r.status_code == 204:
        return r.status_code, None
    try:
        return r.status_code, r.json()
    except ValueError:
        return r.status_code, {"error": r.text[:200]}


def _run(args: argparse.Namespace) -> int:
    if args.token_command == "create":
        method, path, body, ok = "POST", "/api/admin/tokens", create_body(args), 201
    elif args.token_command == "list":
        method, path, body, ok = "GET", "/api/admin/tokens", None, 200
    else:
        method, path, body, ok = "DELETE", f"/api/admin/tokens/{args.id}", None, 204
    try:
        status, answer = call_api(get_settings(), method, path, body, base=args.api)
    except httpx.HTTPError as exc:
        print(f"sentiric token: the API is not reachable: {exc}", file=sys.stderr)
        return 1
    if status != ok:
        print(f"sentiric token: refused ({status}): {json.dumps(answer)}", file=sys.stderr)
        return 1
    if answer is not None:
        print(json.dumps(answer, indent=2))
    return 0


def add_parser(sub: Any) -> None:
    token = sub.add_parser("token", help="API tokens (POST/GET/DELETE /api/admin/tokens), per tenant")
    commands = token.add_subparsers(dest="token_command", required=True)
    create = commands.add_parser("create", help="issue a token; printed once")
    create.add_argument("name", help="who or what holds it (shown in the audit trail)")
    create.add_argument(
        "--scopes", default="read", help="comma-separated: read, admin, platform (default read)"
    )
    create.add_argument("--tenant", help="the token's tenant (default: default)")
    create.add_argument("--expires-at", dest="expires_at", help="ISO 8601 with a zone; default: never")
    commands.add_parser("list", help="the tokens (never their secrets)")
    revoke = commands.add_parser("revoke", help="revoke a token and its sessions")
    revoke.add_argument("id", help="the token id (the 16 hex digits after st_)")
    for command in commands.choices.values():
        command.add_argument("--api", help="API base URL (default: from the settings)")
        command.set_defaults(func=_run)
