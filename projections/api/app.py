"""The FastAPI application: `create_app(ApiConfig)`; OpenAPI at `/openapi.json`, docs at `/docs`.

Every route needs a credential with the read scope (admin routes: the admin scope) through one
app-wide dependency, `projections.api.auth.guard`; only `auth.OPEN_ROUTES` (the health probe and the
sign-in page) answer without one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, Request, Response
from prometheus_client import Counter, Histogram

from projections.api import (
    admin,
    admin_actions,
    admin_contacts,
    admin_tenants,
    audit,
    auth,
    calls,
    docs,
    errors,
    listen,
    live,
    ops,
    originate,
    sample,
    stats,
    story,
    tokens,
    writes,
)
from projections.api.services import ApiConfig, lifespan_for
from projections.web.routes import router as web_router

REQUESTS = Counter("sentiric_api_requests_total", "HTTP requests", ["method", "route", "status"])
# Label values from closed sets only: any token is an HTTP method on the wire, and every distinct
# label value is a time series kept for ever.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else "other"


LATENCY = Histogram("sentiric_api_request_seconds", "HTTP request latency", ["route"])
MAX_BODY_BYTES = 1 << 20  # the largest legitimate body (a knowledge entry) is tens of KB


def create_app(config: ApiConfig) -> FastAPI:
    app = FastAPI(
        title="Sentiric API",
        version="1",
        description="Call detail records, transcripts, KPIs and configuration of the Sentiric platform. "
        "Every route but /healthz needs `Authorization: Bearer <token>` (or the dashboard's sign-in "
        "cookie): the read scope, and the admin scope under /api/admin. Every answer is the token's "
        "tenant's: a platform token (the platform scope) sees every tenant, or one named with "
        "`?tenant=` or the `X-Sentiric-Tenant` header.",
        lifespan=lifespan_for(config),
        dependencies=[Depends(auth.guard)],  # every route, including any added later
        docs_url=None,  # FastAPI's own docs routes bypass dependencies: `docs` serves them guarded
        redoc_url=None,
        openapi_url=None,
        max_body_size=MAX_BODY_BYTES,  # bodies are read before dependencies run: bound them
    )
    app.state.verifier = auth.make_verifier(
        app, admin_token=config.admin_token, session_secret=config.session_secret, ttl_s=config.session_ttl_s
    )
    errors.install(app)
    writes.install(app)  # the log unavailable: 503, never a hang or a 500
    auth.install(app)
    docs.install_openapi(app)
    for module in (
        calls,
        story,
        live,
        listen,
        originate,
        stats,
        admin,
        admin_actions,
        admin_contacts,
        admin_tenants,
        audit,
        sample,
        tokens,
        ops,
        docs,
    ):
        app.include_router(module.router)
    app.include_router(web_router)  # the dashboard at /, the voice client at /talk, the sign-in page

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(method_label(request.method), route, str(response.status_code)).inc()
        LATENCY.labels(route).observe(time.perf_counter() - started)
        return response

    return app
