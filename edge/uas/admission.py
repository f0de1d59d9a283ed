"""Admission control for new calls (overload answered 503 + Retry-After, RFC 3261 §21.5.4).

A new INVITE is refused — before it costs a port or more than two facts — when:

* ``too_many_calls``: the edge already carries ``max_calls`` calls (0 = no limit);
* ``ports_exhausted``: the RTP port pool has no port free right now;
* ``log_backlog``: the producer's buffer of unpublished facts is over ``max_log_fill`` full
  (the log is slow or away: accepting more calls would end with facts refused);
* ``cpu_saturated``: the event loop is lagging more than ``max_loop_lag_s`` behind its timers;
* ``draining``: the edge is stopping (SIGTERM): its calls may finish, another edge takes new ones.

Only *new* calls are checked: in-dialog requests (BYE, re-INVITE, INFO) of established calls
always go through, so overload never harms calls already up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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
    draining: bool = False

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
