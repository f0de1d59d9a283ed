"""`/api/stats`: telecom KPIs over a time range (see `projections.kpi` for the definitions), of the
tenant the request acts in: its calls and its analytics windows; a platform admin acting in no tenant
gets every call and the platform's windows (tenant "*")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from projections import kpi
from projections.api.calls import utc
from projections.api.errors import ApiError
from projections.api.models import ErrorBody, Stats
from projections.api.services import Services, services
from projections.api.tenancy import Scope

router = APIRouter(prefix="/api", tags=["stats"])


@router.get("/stats", response_model=Stats, responses={422: {"model": ErrorBody}})
async def get_stats(
    svc: Annotated[Services, Depends(services)],
    scope: Scope,
    start: Annotated[datetime | None, Query(alias="from", description="default: `to` minus 24 h")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
) -> dict[str, Any]:
    try:
        stop = utc(end) or datetime.now(UTC)
        begin = utc(start) or stop - timedelta(hours=24)
        _ = stop - kpi.ACTIVE_HORIZON  # the active-calls query needs it representable
    except OverflowError:
        raise ApiError(422, "time range out of bounds", {"from": start, "to": end}) from None
    if begin >= stop:
        raise ApiError(422, "empty time range: 'from' must be before 'to'", {"from": begin, "to": stop})
    async with svc.pool.acquire() as conn:
        result = await kpi.stats(conn, begin, stop, scope.tenant)
    return result
