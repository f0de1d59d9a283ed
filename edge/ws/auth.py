"""Who may open ``/ws``: the upgrade request's checks, before a call exists (sans-IO: headers, query and
``now`` in, a principal or a refusal out).

1. ``Origin``, when present (every browser sends it), must be one of the allowed origins (the
   ``ws_allowed_origins`` setting; by default the API's own, where the dashboard and ``/talk`` are
   served) → else HTTP 403. A WebSocket is not bound by the same-origin policy, so without this any web
   page could open a call with the visitor's cookie (cross-site WebSocket hijacking).
2. A credential with the ``read`` scope → else HTTP 401 with ``WWW-Authenticate: Bearer``:

   - the ``sentiric_session`` cookie of the dashboard's sign-in (browsers send it with the upgrade:
     cookies are per host, not per port, so the API's cookie reaches the edge on the same host);
   - ``Authorization: Bearer <token>`` (non-browser clients);
   - ``?access_token=<token>`` (RFC 6750 §2.3), for clients that cannot set headers. Prefer the header:
     a URL ends up in proxy logs.

A request without ``Origin`` is no browser: it gets in with a valid credential like any other.
Tokens are checked against the edge's copy of the ``ApiToken`` records (``edge.config_table``), the
cookie with the same key the API signs it with (``sentiric.auth``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qs

from sentiric.auth import READ, SESSION_COOKIE, AuthError, Principal, Verifier, bearer_token, cookie_value

QUERY_TOKEN: Final = "access_token"


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int  # 401 or 403
    reason: str

    @property
    def headers(self) -> dict[str, str]:
        if self.status == 401:
            return {"WWW-Authenticate": 'Bearer realm="sentiric"'}
        return {}


class WsAuth:
    def __init__(self, verifier: Verifier, allowed_origins: frozenset[str]) -> None:
        self.verifier = verifier
        self.allowed_origins = frozenset(o.lower().rstrip("/") for o in allowed_origins)

    def check(self, headers: Mapping[str, str], query: str, now: float) -> Principal | Refusal:
        """``headers`` of the upgrade request (case-insensitive mapping), its raw query string."""
        origin = headers.get("Origin")
        if origin is not None and origin.lower().rstrip("/") not in self.allowed_origins:
            return Refusal(403, f"origin {origin} is not allowed")
        try:
            principal = self._authenticate(headers, query, now)
        except AuthError as exc:
            return Refusal(401, exc.reason)
        if not principal.allows(READ):
            return Refusal(403, "the read scope is required")
        return principal

    def _authenticate(self, headers: Mapping[str, str], query: str, now: float) -> Principal:
        authorization = headers.get("Authorization")
        if authorization is not None:
            token = bearer_token(authorization)
            if token is None:
                raise AuthError("the Authorization header must be 'Bearer <token>'")
            return self.verifier.bearer(token, now)
        try:
            from_query = parse_qs(query, max_num_fields=16).get(QUERY_TOKEN)
        except ValueError:
            raise AuthError("too many query parameters") from None
        if from_query:
            return self.verifier.bearer(from_query[0], now)
        cookie = cookie_value(headers.get("Cookie"), SESSION_COOKIE)
        if cookie is not None:
            return self.verifier.session(cookie, now)
        raise AuthError("a session cookie, a bearer token or ?access_token= is required")
