"""Authentication and scopes for every route of the API and the dashboard.

One dependency, ``guard``, is installed on the whole application (``FastAPI(dependencies=[...])`` in
``projections.api.app``), so a route added later anywhere is protected without saying so; only the
routes in ``OPEN_ROUTES`` answer without a credential. A test enumerates ``app.routes`` and the OpenAPI
paths against a running API and checks each one.

Credentials, either on any route:

- ``Authorization: Bearer <token>`` — an issued ``st_…`` token or the bootstrap ``SENTIRIC_ADMIN_TOKEN``;
- the ``sentiric_session`` cookie set by ``POST /signin`` (``projections.web.signin``).

Outcomes: no credential, or a wrong, revoked or expired one → 401 with ``WWW-Authenticate: Bearer``;
the HTML pages in ``PAGES`` redirect a browser without a (valid) session to ``/signin?next=…`` instead.
Every guarded route needs the ``read`` scope; the admin routers add ``require_admin`` (403 for a read
token), the config routers ``require_admin_to_change`` (their GETs need only ``read``). A request
authenticated by the cookie with an unsafe method must come from the API's own origin
(``Origin``, or ``Sec-Fetch-Site: same-origin``), else 403: SameSite=Strict keeps other sites' requests
from carrying the cookie, and this check also refuses other origins of the same site (another port on
the same host) that SameSite cannot tell apart.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, Final
from urllib.parse import quote, urlsplit

import structlog
from fastapi import Depends, FastAPI, Request, WebSocketException, status
from fastapi.responses import RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from projections.api.errors import ApiError
from schemas import models as m
from sentiric.auth import (
    ADMIN,
    READ,
    SESSION_COOKIE,
    AuthError,
    Principal,
    Verifier,
    bearer_token,
    derive_session_key,
)

log = structlog.get_logger(__name__)

# (method, route path) of the only routes that answer without a credential: the health probe, the
# sign-in page, its form and sign-out, what the sign-in page needs to render, and the sample booking
# endpoint, which checks the request's HMAC signature itself.
OPEN_ROUTES: Final = frozenset(
    {
        ("GET", "/healthz"),
        ("GET", "/signin"),
        ("POST", "/signin"),
        ("POST", "/signout"),
        ("GET", "/web/style.css"),
        ("GET", "/web/favicon.svg"),
        ("GET", "/favicon.ico"),
        ("POST", "/api/sample/bookings"),  # signed by the sample action's secret instead (api.sample)
    }
)
# HTML: redirect to the sign-in page
PAGES: Final = frozenset({"/", "/call", "/talk", "/console", "/docs", "/redoc"})
UNSAFE: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WEBSOCKET: Final = "WEBSOCKET"  # the method of a WebSocket handshake here (its scope has none)
VIEW_WAIT_S: Final = 5.0  # a token issued before this process started is on the config topic
MISSING: Final = {"WWW-Authenticate": 'Bearer realm="sentiric"'}
INVALID: Final = {"WWW-Authenticate": 'Bearer realm="sentiric", error="invalid_token"'}

# Only for the OpenAPI document (security scheme, Swagger UI's Authorize button): ``guard`` reads the
# header itself so that a malformed one is a 401 rather than silently no credential.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`st_…`, issued at POST /api/admin/tokens) or SENTIRIC_ADMIN_TOKEN.",
)


class SignInRequired(Exception):
    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def make_verifier(app: FastAPI, *, admin_token: str, session_secret: str | None, ttl_s: float) -> Verifier:
    """The app's verifier; token records come from the services' config view once it runs."""

    def lookup(token_id: str) -> Any | None:
        services = getattr(app.state, "services", None)
        return services.view.get(m.ApiToken, token_id) if services is not None else None

    def tenant_enabled(tenant: str) -> bool:
        services = getattr(app.state, "services", None)
        record = services.view.get(m.Tenant, tenant) if services is not None else None
        return record is None or bool(record.enabled)  # "default" (and any tenant without a record) is

    return Verifier(
        admin_token=admin_token,
        lookup=lookup,
        tenant_enabled=tenant_enabled,
        session_key=derive_session_key(admin_token, session_secret),
        session_ttl_s=ttl_s,
    )


def verifier_of(request: HTTPConnection) -> Verifier:
    verifier: Verifier = request.app.state.verifier
    return verifier


def safe_next(value: str | None) -> str:
    """A local path to return to after signing in; anything else (another site, ``//host``) is ``/``."""
    if not value or len(value) > 2000 or not value.startswith("/") or value[1:2] in ("/", "\\"):
        return "/"
    if any(c in value for c in "\\\r\n\t") or urlsplit(value).netloc:
        return "/"
    return value


def same_origin(request: HTTPConnection) -> bool:
    """The request comes from a page of this API's own origin (CSRF check for cookie requests)."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin != "null" and urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower()
    return request.headers.get("sec-fetch-site") == "same-origin"


async def _view_loaded(services: Any) -> bool:
    """Wait (a little) for the config view's first load; False if it is still loading."""
    try:
        await asyncio.wait_for(services.view.ready.wait(), VIEW_WAIT_S)
    except TimeoutError:
        return False
    return True


def _verify(request: HTTPConnection) -> Principal:
    verifier = verifier_of(request)
    authorization = request.headers.get("authorization")
    if authorization is not None:
        token = bearer_token(authorization)
        if token is None:
            raise AuthError("the Authorization header must be 'Bearer <token>'")
        return verifier.bearer(token, time.time())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie is None:
        raise AuthError("a bearer token or a sign-in session is required")
    return verifier.session(cookie, time.time())


async def authenticate(request: HTTPConnection) -> Principal:
    """The caller's principal from the Authorization header or the session cookie; raises AuthError.

    A token issued before this process started is on the config topic: while the view is still loading
    it, a credential that does not check out waits for the load (at most ``VIEW_WAIT_S``) and is tried
    again, and is answered 503 if the view is still not loaded. Good credentials never wait."""
    try:
        return _verify(request)
    except AuthError:
        services = getattr(request.app.state, "services", None)
        if services is None or services.view.ready.is_set():
            raise
        if not await _view_loaded(services):
            raise ApiError(503, "the token store is still loading; try again") from None
        return _verify(request)


async def guard(
    request: HTTPConnection, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> Principal | None:
    """The app-wide dependency: None on an open route, else the authenticated principal with ``read``.
    WebSocket routes too: a refusal closes the handshake before it is accepted (HTTP 403 to the
    client), with the refusal's message as the close reason."""
    if request.scope.get("type") != "websocket":
        return await _guard(request)
    try:
        return await _guard(request)
    except (ApiError, SignInRequired) as exc:
        reason = exc.message if isinstance(exc, ApiError) else "unauthorized"
        raise WebSocketException(code=status.WS_1008_POLICY_VIOLATION, reason=reason) from None


async def _guard(request: HTTPConnection) -> Principal | None:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    method = request.scope.get("method") or WEBSOCKET
    if (method, path) in OPEN_ROUTES:
        return None
    try:
        principal = await authenticate(request)
    except AuthError as exc:
        if path in PAGES and "authorization" not in request.headers:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target) from None
        missing = "authorization" not in request.headers and SESSION_COOKIE not in request.cookies
        raise ApiError(401, "unauthorized", exc.reason, MISSING if missing else INVALID) from None
    if principal.via == "session" and method in UNSAFE and not same_origin(request):
        raise ApiError(
            403, "cross-origin request refused", "a cookie-authenticated write must come from this origin"
        )
    if principal.via == "session" and method == WEBSOCKET and not same_origin(request):
        # browsers send cookies with any site's WebSocket handshake (no CORS): cross-site hijacking
        raise ApiError(
            403,
            "cross-origin WebSocket refused",
            "a cookie-authenticated WebSocket must come from this origin",
        )
    if not principal.allows(READ):
        raise ApiError(403, "the read scope is required", None, _insufficient(READ))
    request.state.principal = principal
    return principal


def _insufficient(scope: str) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="sentiric", error="insufficient_scope", scope="{scope}"'}


def require_admin(principal: Annotated[Principal | None, Depends(guard)]) -> Principal:
    """For admin routers: the admin scope (a read token gets 403). Shares ``guard``'s cached result."""
    if principal is None or not principal.allows(ADMIN):
        raise ApiError(403, "the admin scope is required", None, _insufficient(ADMIN))
    return principal


def require_admin_to_change(
    request: Request, principal: Annotated[Principal | None, Depends(guard)]
) -> Principal:
    """For the config routers: reading (GET) needs only ``read`` (``guard`` checked it; secrets are never
    returned), changing needs the admin scope. The console shows a read token the lists, no buttons."""
    if principal is not None and request.method in ("GET", "HEAD"):
        return principal
    return require_admin(principal)


def install(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> RedirectResponse:
        return RedirectResponse(f"/signin?next={quote(safe_next(exc.next_path), safe='/')}", status_code=303)
