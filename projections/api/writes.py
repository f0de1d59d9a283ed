"""How the admin routes write a config record: buffered in the API's producer, then a bounded wait for
the log's acknowledgement (`acks=all`).

The wait ends after `ApiConfig.write_timeout_s` (the setting `api_write_timeout_s`): a broker that is
away or never acknowledges answers `503 {"error": "log unavailable"}` instead of holding the request
(and the client) for ever. The body says what became of the record, because the answer differs:

- the log did not acknowledge in time: the record is still queued in this process and retried — it
  may still be written, and then it takes effect (a PUT again is harmless: the latest record wins);
- the producer's sender task is not running, or its buffer is full: the record will not be written.

The process's own config view is updated only after an acknowledgement; a record written later reaches
it through the config follower like any other.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.api.errors import ApiError
from projections.api.services import Services
from sentiric.eventlog.producer import BufferFull, FlushTimeout, SenderStopped

RETRY_AFTER_S = 5
QUEUED = "unknown: still queued in this process and retried; it may still be written, and then take effect"
NOT_WRITTEN = "not written"


def log_unavailable(reason: str, record: str) -> ApiError:
    return ApiError(
        503, "log unavailable", {"reason": reason, "record": record}, {"Retry-After": str(RETRY_AFTER_S)}
    )


async def acknowledged(svc: Services, publish: Callable[[], None]) -> None:
    """`publish()` a record to the API's producer and wait for the log's acknowledgement, at most
    `write_timeout_s`; raises a 503 `ApiError` saying what became of the record otherwise."""
    try:
        publish()
        await svc.producer.flush(svc.config.write_timeout_s)
    except FlushTimeout as exc:
        raise log_unavailable(str(exc), QUEUED) from None
    except (SenderStopped, BufferFull) as exc:
        raise log_unavailable(str(exc), NOT_WRITTEN) from None
