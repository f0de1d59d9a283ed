"""The browser UI, served by the API process: include ``router`` in the FastAPI app.

    GET /                   the operator dashboard (live calls, CDRs, one call's timeline, KPI charts)
    GET /call?id=<call_id>  one call's whole story (``/api/calls/{id}/story``, audio, golden button)
    GET /talk               the browser voice client (talks to the edge's /ws gateway)
    GET /console            the admin console: config records (``/api/admin/*``) listed, created, edited,
                            deleted through forms built from ``/openapi.json``; the audit trail
    GET|POST /signin        the sign-in page: a token for a session cookie (``projections.web.signin``)
    POST /signout
    GET /web/<asset>        their scripts and style sheet (plain files, no build step, nothing external)
    GET /favicon.ico        the icon (an SVG)
    GET /api/web/config     what the pages need to know: the WebSocket gateway's URL
    GET /api/web/session    who is signed in (name, scopes); the pages' way to notice a lapsed session
    GET /api/live           live calls as server-sent events (``projections.web.live``)
    GET /api/web/series     KPIs per time bucket for the charts: one grouped query over the CDR index

Like every route of the API, these need a read token or the sign-in cookie (``projections.api.auth``),
except the sign-in page and the two assets it renders with (``style.css``, the icon); the pages
redirect to ``/signin`` without one, and their scripts go there when a request answers 401.

Everything else the dashboard shows comes from the main API (``/api/calls``, ``/api/calls/{id}``,
``/api/calls/{id}/events``, ``/api/calls/{id}/recording``, ``/api/stats``; the call page
``/api/calls/{id}/story``, ``/audio/{offset}.wav`` and ``/golden``, ``projections.api.story``). The
pages work with that API's database pool (``app.state.services``) when they have it, and degrade to
the live feed alone when they do not.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from projections.api.auth import authenticate
from projections.api.calls import utc
from projections.api.errors import ApiError, error_response
from projections.api.tenancy import Scope
from projections.web import signin
from projections.web.live import LiveFeed
from sentiric.auth import AuthError, Principal
from sentiric.eventlog.connection import client_options
from sentiric.settings import get_settings

STATIC: Final = Path(__file__).parent / "static"
ASSETS: Final = {
    "style.css": "text/css",
    "dashboard.js": "text/javascript",
    "call.js": "text/javascript",
    "talk.js": "text/javascript",
    "console.js": "text/javascript",
    "capture-worklet.js": "text/javascript",
    "charts.js": "text/javascript",
    "session.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
}
RECHECK_S: Final = 5.0  # an open live stream re-checks its credential this often (at most)
PUBLIC_ASSETS: Final = ("style.css", "favicon.svg")  # the sign-in page renders with these: open routes
NO_CACHE: Final = {"Cache-Control": "no-cache"}
PAGE_HEADERS: Final = {
    **NO_CACHE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
}
SEED_SQL: Final = (
    "SELECT call_id, channel, caller, callee, invite_at, answered_at, tenant FROM calls "
    "WHERE finished_at IS NULL AND invite_at > $1 ORDER BY invite_at DESC LIMIT 500"
)
SERIES_SQL: Final = """
SELECT date_bin($3::interval, invite_at, $1) AS bucket,
       count(*) AS offered,
       count(answered_at) AS answered,
       avg(duration_ms) FILTER (WHERE answered_at IS NOT NULL) AS acd_ms,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY pdd_ms) AS pdd_ms_p50,
       avg(mos) AS mos
FROM calls
WHERE invite_at >= $1 AND invite_at < $2 AND ($4::text IS NULL OR tenant = $4)
GROUP BY 1 ORDER BY 1
"""


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    feed: LiveFeed | None = getattr(app.state, "web_live", None)
    if feed is not None:
        await feed.stop()


router = APIRouter(tags=["web"], lifespan=_lifespan)
router.include_router(signin.router)


def _pool(request: Request) -> Any:
    services = getattr(request.app.state, "services", None)
    return getattr(services, "pool", None)


def _client(request: Request) -> dict[str, Any]:
    services = getattr(request.app.state, "services", None)
    config = getattr(services, "config", None)
    return config.client if config is not None else client_options(get_settings())


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type="text/html", headers=PAGE_HEADERS)


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return _page("dashboard.html")


@router.get("/call", include_in_schema=False)
async def call_page() -> FileResponse:
    """The call named by ``?id=``; the page reads it and says so when it is missing."""
    return _page("call.html")


@router.get("/talk", include_in_schema=False)
async def talk() -> FileResponse:
    return _page("talk.html")


@router.get("/console", include_in_schema=False)
async def console() -> FileResponse:
    """Read tokens see the lists; the admin scope gets the write buttons (the API enforces it anyway)."""
    return _page("console.html")


@router.get("/favicon.ico", include_in_schema=False)
async def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")


def _public_asset(name: str) -> None:
    async def serve() -> FileResponse:
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=NO_CACHE)

    # Declared before /web/{asset}, which would otherwise match first and ask for a token.
    router.add_api_route(
        f"/web/{name}", serve, methods=["GET"], include_in_schema=False, name=f"asset:{name}"
    )


for _name in PUBLIC_ASSETS:
    _public_asset(_name)


@router.get("/web/{asset}", include_in_schema=False)
async def asset(asset: str) -> FileResponse:
    media = ASSETS.get(asset)
    if media is None:
        raise HTTPException(404, "no such asset")
    return FileResponse(STATIC / asset, media_type=media, headers=NO_CACHE)


@router.get("/api/web/config")
async def web_config(request: Request) -> dict[str, Any]:
    """The WebSocket gateway's URL as this browser should reach it (``app.state.web_ws_url`` overrides)."""
    url = getattr(request.app.state, "web_ws_url", None)
    if url is None:
        host = request.url.hostname or "127.0.0.1"
        url = f"ws://{host}:{get_settings().ws_port}/ws"
    return {"ws_url": url, "sample_rate": 16000}


@router.get("/api/web/session")
async def web_session(request: Request, scope: Scope) -> dict[str, Any]:
    """Who this request is signed in as: its tenant, and the tenant it acts in (None: a platform admin
    acting in every tenant)."""
    principal: Principal = request.state.principal
    return {
        "name": principal.name,
        "scopes": sorted(principal.scopes),
        "via": principal.via,
        "tenant": principal.tenant,
        "acting_tenant": scope.tenant,
        "platform": principal.platform,
    }


# An endless server-sent event stream: documented in the module docstring, not in the OpenAPI schema
# (a schema-driven client or fuzzer would wait on it forever).
@router.get("/api/live", response_class=StreamingResponse, include_in_schema=False)
async def live(request: Request, scope: Scope) -> StreamingResponse:
    """``text/event-stream``: one ``snapshot`` event (the calls in progress), then a ``call`` event for
    every change (status, dialog state, last words either side); ``status: "ended"`` removes a call."""
    feed: LiveFeed | None = getattr(request.app.state, "web_live", None)
    if feed is None:
        feed = request.app.state.web_live = LiveFeed(_client(request))
        seed: list[dict[str, Any]] = []
        pool = _pool(request)
        if pool is not None:
            with contextlib.suppress(Exception):  # the live feed works without the CDR store
                since = datetime.now(UTC) - timedelta(hours=4)
                seed = [dict(r) for r in await pool.fetch(SEED_SQL, since)]
        await feed.ensure_started(seed)
    headers = {**NO_CACHE, "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _while_authorized(request, feed.stream(scope.tenant)), media_type="text/event-stream", headers=headers
    )


async def _while_authorized(request: Request, events: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The stream, ended once its credential stops being valid (revoked, expired): checked again at
    least every ``RECHECK_S`` while events flow, and at each 15 s keep-alive when they do not. The
    browser's EventSource then reconnects, gets 401 and goes to the sign-in page."""
    checked = time.monotonic()
    async for event in events:
        if time.monotonic() - checked >= RECHECK_S:
            try:
                await authenticate(request)
            except (AuthError, ApiError):
                return
            checked = time.monotonic()
        yield event


@router.get("/api/web/series")
async def series(
    request: Request,
    scope: Scope,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    buckets: Annotated[int, Query(ge=1, le=500)] = 24,
) -> JSONResponse:
    """KPIs per bucket of ``(to - from) / buckets``: calls offered and answered, ASR, ACD, PDD p50, MOS."""
    try:
        stop = utc(end) or datetime.now(UTC)
        begin = utc(start) or stop - timedelta(hours=24)
    except OverflowError:
        return error_response(422, "time range out of bounds", {"from": start, "to": end})
    if begin >= stop:
        detail = {"from": begin, "to": stop}
        return error_response(422, "empty time range: 'from' must be before 'to'", detail)
    pool = _pool(request)
    if pool is None:
        return error_response(503, "no CDR database in this process")
    width = max(timedelta(seconds=1), (stop - begin) / buckets)
    rows = {r["bucket"]: r for r in await pool.fetch(SERIES_SQL, begin, stop, width, scope.tenant)}
    points = []
    for i in range(buckets):
        at = begin + width * i
        if at >= stop:
            break
        r = rows.get(at)
        offered = r["offered"] if r else 0
        answered = r["answered"] if r else 0
        points.append(
            {
                "at": at.isoformat(),
                "offered": offered,
                "answered": answered,
                "asr": answered / offered if offered else None,
                "acd_ms": float(r["acd_ms"]) if r and r["acd_ms"] is not None else None,
                "pdd_ms_p50": r["pdd_ms_p50"] if r else None,
                "mos": r["mos"] if r else None,
            }
        )
    return JSONResponse({"from": begin.isoformat(), "to": stop.isoformat(), "width_s": width.total_seconds(),
                         "points": points})  # fmt: skip
