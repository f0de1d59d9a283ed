"""`/healthz` (database and broker reachable, else 503) and `/metrics` (Prometheus)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from projections.api.errors import ApiError
from projections.api.models import Health
from projections.api.services import Services, services
from projections.api.tenancy import Scope
from sentiric.auth import DEFAULT_TENANT

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, responses={503: {"model": Health}})
async def healthz(svc: Annotated[Services, Depends(services)]) -> JSONResponse:
    database, broker = await asyncio.gather(svc.database_ok(), svc.broker_ok())
    ok = database and broker
    body = {"status": "ok" if ok else "unavailable", "database": database, "broker": broker}
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response)
async def metrics(scope: Scope) -> Response:
    """The process's metrics count every tenant's calls: a platform principal, or a token of the
    "default" tenant (what a scraper's token was before tenants), reads them; another tenant's 403."""
    if not scope.principal.platform and scope.principal.tenant != DEFAULT_TENANT:
        raise ApiError(403, "the platform's metrics are not a tenant's to read")
    return Response(generate_latest() + _supervisor_metrics(), media_type=CONTENT_TYPE_LATEST)


def _supervisor_metrics() -> bytes:
    """Under `sentiric up`, the supervisor's counters (restarts), which it writes to a file in the
    shared data directory: the supervisor serves no port, and the platform's metrics are here."""
    from sentiric.settings import get_settings
    from sentiric.supervisor import METRICS_FILE

    try:
        return (get_settings().data_dir / METRICS_FILE).read_bytes()
    except OSError:
        return b""
