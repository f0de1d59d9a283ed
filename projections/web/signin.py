"""The sign-in page: a token in, an HttpOnly session cookie out (``sentiric.auth`` describes the cookie).

    GET  /signin     the form (open); ``?next=/talk`` says where to go after signing in
    POST /signin     ``application/x-www-form-urlencoded``: ``token``, ``next`` → 303 to ``next`` with
                     ``Set-Cookie: sentiric_session=…; HttpOnly; SameSite=Strict; Path=/`` (``Secure``
                     when served over HTTPS); a wrong, revoked or expired token → 401 and the form again
    POST /signout    clears the cookie → 303 to /signin (the token itself stays valid: revoke it at
                     ``DELETE /api/admin/tokens/{id}`` to end every session made with it)

Browsers then send the cookie with every same-origin request — fetch, EventSource, ``<audio>`` — and
with the WebSocket upgrade to the edge's ``/ws`` on another port of the same host.

CSRF: SameSite=Strict keeps cross-site requests from carrying the cookie. The two open POSTs here also
check ``Origin`` (and ``Sec-Fetch-Site`` where the browser sends it) against this origin, so another
site (or another port of this host) can neither sign a browser into someone else's token nor out.
A client that sends neither header (curl) is no browser and gains nothing it could not do directly.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from projections.api.auth import safe_next, verifier_of
from sentiric.auth import SESSION_COOKIE, AuthError

PAGE: Final = (Path(__file__).parent / "static" / "signin.html").read_text()
HEADERS: Final = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    # Not no-referrer: with it a browser sends `Origin: null` on the form's POST, which the CSRF check
    # (rightly) refuses. same-origin still keeps the URL (its ?next=) from other sites.
    "Referrer-Policy": "same-origin",
}
MAX_FORM_FIELDS: Final = 8

router = APIRouter(tags=["web"], include_in_schema=False)


def page(next_path: str, error: str = "", status: int = 200) -> HTMLResponse:
    body = PAGE.replace("{{next}}", html.escape(next_path, quote=True)).replace(
        "{{error}}", f'<p class="error" id="error">{html.escape(error)}</p>' if error else ""
    )
    return HTMLResponse(body, status_code=status, headers=HEADERS)


def from_this_origin(request: Request) -> bool:
    """No cross-origin browser POST: ``Origin`` (when sent) names this host, ``Sec-Fetch-Site`` (when
    sent) is same-origin or a user's own navigation."""
    origin = request.headers.get("origin")
    if origin is not None and (
        origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()
    ):
        return False
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


@router.get("/signin")
async def sign_in_page(next: str = "/") -> HTMLResponse:
    return page(safe_next(next))


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    if not from_this_origin(request):
        return page("/", "Sign-in refused: the form was not sent from this site.", 403)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return page("/", "Sign in with the form.", 415)
    try:
        fields = parse_qs(
            (await request.body()).decode("utf-8", "replace"),
            max_num_fields=MAX_FORM_FIELDS,
            keep_blank_values=True,
        )
    except ValueError:  # more fields than the form has
        return page("/", "Sign in with the form.", 400)
    token = (fields.get("token") or [""])[0].strip()
    next_path = safe_next((fields.get("next") or ["/"])[0])
    verifier = verifier_of(request)
    now = time.time()
    try:
        principal = verifier.bearer(token, now)
        cookie, expires = verifier.issue_session(principal, now)
    except AuthError:
        return page(next_path, "That token is not valid: wrong, revoked or expired.", 401)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max(1, int(expires - now)),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    if not from_this_origin(request):
        return page("/", "Sign-out refused: the form was not sent from this site.", 403)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
