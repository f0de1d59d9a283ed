"""How the admin routes write a config record: buffered in the API's producer, then a bounded wait for
the log's acknowledgement (`acks=all`).

The wait ends after `ApiConfig.write_timeout_s` (the setting `api_write_timeout_s`): a broker that is
away or never acknowledges answers `503 {"error": "log unavailable"}` with `Retry-After` instead of
holding the request (and the client) for ever. The body says what became of the record, because the
answer differs:

- the log did not acknowledge in time: the record is still queued in this process and retried — it
  may still be written, and then it takes effect (a PUT again is harmless: the latest record wins);
- the producer's sender task is not running, or its buffer is full: the record will not be written.

The process's own config view is updated only after an acknowledgement; a record written later reaches
it through the config follower like any other. Any other route that meets the log unavailable (a
webhook replay parking a delivery again) gets the same 503 through `install`'s handler, not a 500.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from projections.api.auth import require_admin, require_admin_to_change
from projections.api.errors import error_response
from projections.api.models import ErrorBody
from projections.api.services import Services
from sentiric.eventlog.producer import BufferFull, FlushTimeout, LogUnavailable

RETRY_AFTER_S = 5
QUEUED = "unknown: still queued in this process and retried; it may still be written, and then take effect"
NOT_WRITTEN = "not written"


def admin_router(prefix: str, tag: str, *, readable: bool = False) -> APIRouter:
    """A router of admin write routes (`/api/admin`, `/api/admin/tokens`): admin scope on every route
    (`readable`: on every route but the GETs, which need only `read`), and the answers each may give
    besides its own documented once, the 503 of an unacknowledged write among them."""
    return APIRouter(
        prefix=prefix,
        tags=[tag],
        dependencies=[Depends(require_admin_to_change if readable else require_admin)],
        responses={
            401: {"model": ErrorBody},
            403: {"model": ErrorBody},
            422: {"model": ErrorBody},
            503: {"model": ErrorBody, "description": "log unavailable: the write was not acknowledged"},
        },
    )


async def acknowledged(svc: Services, publish: Callable[[], None]) -> None:
    """`publish()` a record to the API's producer and wait for the log's acknowledgement, at most
    `write_timeout_s`; raises `LogUnavailable` or `BufferFull` (a 503, see `install`) otherwise."""
    publish()
    await svc.producer.flush(svc.config.write_timeout_s)


def install(app: FastAPI) -> None:
    async def _log_unavailable(request: Request, exc: Exception) -> JSONResponse:
        record = QUEUED if isinstance(exc, FlushTimeout) else NOT_WRITTEN
        return error_response(
            503,
            "log unavailable",
            {"reason": str(exc), "record": record},
            {"Retry-After": str(RETRY_AFTER_S)},
        )

    app.add_exception_handler(LogUnavailable, _log_unavailable)
    app.add_exception_handler(BufferFull, _log_unavailable)
