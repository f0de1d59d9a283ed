"""The FastAPI application: `create_app(ApiConfig)`; OpenAPI at `/openapi.json`, docs at `/docs`."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import Counter, Histogram

from projections.api import admin, calls, errors, ops, stats
from projections.api.services import ApiConfig, lifespan_for
from projections.web.routes import router as web_router

REQUESTS = Counter("sentiric_api_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("sentiric_api_request_seconds", "HTTP request latency", ["route"])


def create_app(config: ApiConfig) -> FastAPI:
    app = FastAPI(
        title="Sentiric API",
        version="1",
        description="Call detail records, transcripts, KPIs and configuration of the Sentiric platform.",
        lifespan=lifespan_for(config),
    )
    errors.install(app)
    for module in (calls, stats, admin, ops):
        app.include_router(module.router)
    app.include_router(web_router)  # the dashboard at / and the voice client at /talk

    @app.middleware("http")
    async def _measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        LATENCY.labels(route).observe(time.perf_counter() - started)
        return response

    return app
