"""structlog set-up: readable console lines in development, one JSON object per line in production.

Every line has `service`, `level`, `timestamp` and `event` (the message); code about a call binds
`call_id` and `trace_id` with `bind_call()` so they appear on every line it logs.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.contextvars import bind_contextvars, unbind_contextvars

from sentiric.settings import Settings


def configure(settings: Settings, service: str) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    if settings.env == "production":
        renderer: Any = structlog.processors.JSONRenderer()
        shared.append(structlog.processors.EventRenamer("message"))
        shared.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries (aiokafka, faust, uvicorn) log through the standard library: route them to stderr too.
    logging.basicConfig(level=max(level, logging.WARNING), stream=sys.stderr, force=True)


def _add_service(service: str) -> Any:
    def processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    return processor


def bind_call(call_id: str, trace_id: str | None = None) -> None:
    """Bind the call's ids to every log line of the current task (contextvars are per task)."""
    bind_contextvars(call_id=call_id, trace_id=trace_id or call_id)


def unbind_call() -> None:
    unbind_contextvars("call_id", "trace_id")
