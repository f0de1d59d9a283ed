"""Admission control for new calls (overload answered 503 + Retry-After, RFC 3261 §21.5.4).

A new INVITE is refused — before it costs a port or more than two facts — when:

* ``too_many_calls``: the edge already carries ``max_calls`` calls (0 = no limit);
* ``ports_exhausted``: the RTP port pool has no port free right now;
* ``log_backlog``: the producer's buffer of unpublished facts is over ``max_log_fill`` full
  (the log is slow or away: accepting more calls would end with facts refused);
* ``cpu_saturated``: the event loop is lagging more than ``max_loop_lag_s`` behind its timers;
* ``draining``: the edge is stopping (SIGTERM): its calls may finish, another edge takes new ones.

A call for the AI agent is also refused when no dialog worker can serve it (never an answered silent
call; :mod:`edge.workers`): ``no_worker`` when no live worker holds the partition its call id lands on,
``worker_behind`` when the one that does is too far behind.  That check comes after the access and
dialplan checks (``edge.uas.setup``), so a scanner learns nothing from it, and the dialplan's
``busy_action`` picks a 503 + Retry-After or an answer with the edge's busy prompt.

Only *new* calls are checked: in-dialog requests (BYE, re-INVITE, INFO) of established calls
always go through, so overload never harms calls already up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Workers(Protocol):
    """Where dialog work for a call id would go (`edge.workers.Placement`)."""

    def refusal(self, call_id: str) -> str | None: ...

    def draw(self) -> str: ...


@dataclass(frozen=True, slots=True)
class AdmissionLimits:
    max_calls: int = 0
    max_log_fill: float = 0.5
    max_loop_lag_s: float = 0.25
    retry_after_s: int = 5


def _zero() -> float:
    return 0.0


@dataclass(slots=True)
class Admission:
    limits: AdmissionLimits
    log_fill: Callable[[], float] = _zero  # EventProducer.fill_ratio
    loop_lag: Callable[[], float] = _zero  # seconds the event loop runs late
    workers: Workers | None = None  # None: no worker check (require_worker false)
    draining: bool = False

    def call_id(self) -> str:
        """A new call's id: one whose partition a worker serves, when the workers are checked."""
        return self.workers.draw() if self.workers is not None else str(uuid.uuid4())

    def worker_refusal(self, call_id: str) -> str | None:
        """None when a dialog worker can serve ``call_id``, else ``no_worker`` or ``worker_behind``."""
        return self.workers.refusal(call_id) if self.workers is not None else None

    def refuse(self, *, active_calls: int, ports_free: int) -> str | None:
        """None to admit, else the machine-readable reason for the 503."""
        if self.draining:
            return "draining"
        limits = self.limits
        if limits.max_calls and active_calls >= limits.max_calls:
            return "too_many_calls"
        if ports_free <= 0:
            return "ports_exhausted"
        if self.log_fill() > limits.max_log_fill:
            return "log_backlog"
        if self.loop_lag() > limits.max_loop_lag_s:
            return "cpu_saturated"
        return None
