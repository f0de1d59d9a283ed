"""One logging pipeline: readable console lines in development, one JSON object per line in production.

Every line has `service`, `level`, `timestamp` and `event` (the message; `message` in JSON); code about
a call binds `call_id` and `trace_id` with `bind_call()` so they appear on every line logged in that
task. Two entrances, one set of processors and one renderer:

- structlog (`structlog.get_logger`), the platform's own way to log, renders directly (the fast path);
- the standard library's `logging` — the modules that still use it and the libraries (aiokafka, Faust,
  uvicorn, grpc) — goes through one root handler whose `structlog.stdlib.ProcessorFormatter` runs the
  same processors (so a stdlib line in a task with a bound call carries its `call_id`) and adds
  `logger`, the stdlib logger's name.

Levels: structlog and the platform's own stdlib loggers (`OWN_LOGGERS`) at `log_level`; libraries at
WARNING or above, so their chatter stays out.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

import structlog
from structlog.contextvars import bind_contextvars, unbind_contextvars

from sentiric.settings import Settings

OWN_LOGGERS: Final = ("sentiric", "edge", "streams", "projections", "schemas")


def configure(settings: Settings, service: str) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    rendering: list[Any]
    if settings.env == "production":
        rendering = [
            structlog.processors.EventRenamer("message"),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ]
    else:
        rendering = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=[*shared, *rendering],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *rendering],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(max(level, logging.WARNING))
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)


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
