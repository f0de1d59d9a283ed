"""The one media clock of an edge process: a fixed 20 ms grid that ticks every media session.

Every session's outgoing RTP (and its jitter-buffer playout, VAD, recording and taps) is driven from
here, not from a sleeping task per call: one timer handle, re-armed with ``loop.call_at`` on the
absolute grid ``start + k * period``, so the cadence never drifts however long a tick takes.

- A tick passes the grid time it stands for (``deadline``), not the time it actually ran, so sessions
  stamp packets on the ideal grid; they may read ``loop.time()`` themselves for arrival times.
- When the loop falls behind (a GC pause, a burst of work), the missed ticks run back to back, up to
  ``max_catch_up`` of them, so every session still sends 50 packets a second; beyond that the clock
  skips ahead to the present and counts the skipped ticks (the receivers see a gap, not a burst).
- A session whose tick raises is logged and counted; it never stops the clock or another session.
- Two phases per tick: a member with ``send_tick``/``receive_tick`` (a ``PhasedTickable``) has its send
  phase run with every other member's before any receive phase, so the outgoing packets of all calls
  leave together at the top of the tick and the receive work (jitter buffer, decode, VAD) follows;
  a plain ``Tickable`` has its ``tick`` run in the send phase.
- A member with ``clock_phases()`` (an ``EffectTickable``: a sans-IO session's shell) gives the clock
  the session's own phase functions, which return effects, and the shell's ``carry`` for them: the
  clock hands it what a phase returned (nothing, usually, in the receive phase), one Python frame less
  per phase and call than a shell method wrapping each phase.
- Batches and the settle phase: work that is much cheaper done for all calls at once than call by call
  (Silero VAD: one ONNX run over every window completed this tick costs about a third of one run per
  window) is queued by the members in their receive phase; after every receive phase the clock runs
  each batch (``add_batch``), then every member's settle phase (``settle_tick``, or the third of
  ``clock_phases()``), which takes the batch's answers (the VAD decision, its events). All in the same
  tick: batching delays no decision.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import structlog
from prometheus_client import Counter

log = structlog.get_logger(__name__)

PERIOD_S = 0.020

TICK_ERRORS = Counter("sentiric_media_tick_errors_total", "Media session ticks that raised")
TICKS_SKIPPED = Counter("sentiric_media_clock_skipped_ticks_total", "Clock ticks skipped (loop overloaded)")


class Tickable(Protocol):
    def tick(self, now: float) -> None: ...


class PhasedTickable(Tickable, Protocol):
    """A ``settle_tick(now)`` method, if it has one, is run in the settle phase (after the batches)."""

    def send_tick(self, now: float) -> None: ...

    def receive_tick(self, now: float) -> None: ...


Phase = Callable[[float], Any]  # what it returns is handed to the member's carry if truthy
Carry = Callable[[Any], None]


class EffectTickable(Protocol):
    def clock_phases(self) -> tuple[Phase, Phase, Phase | None, Carry]:
        """(send phase, receive phase, settle phase or None, carry): each phase returns effects for
        ``carry``."""
        ...


def _no_effects(effects: Any) -> None:
    """The carry of a member whose phases return nothing."""


class MediaClock:
    __slots__ = (
        "_batches",
        "_handle",
        "_k",
        "_loop",
        "_members",
        "_start",
        "late_ticks",
        "max_catch_up",
        "period",
        "skipped_ticks",
        "ticks",
    )

    def __init__(
        self,
        period: float = PERIOD_S,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        max_catch_up: int = 5,
    ) -> None:
        if period <= 0:
            raise ValueError(f"clock period must be positive, got {period}")
        self.period = period
        self.max_catch_up = max_catch_up
        self._loop = loop
        # id → (send phase, receive phase, settle phase, carry for what they return)
        self._members: dict[int, tuple[Phase, Phase | None, Phase | None, Carry]] = {}
        self._batches: list[Callable[[], None]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._start = 0.0
        self._k = 0
        self.ticks = 0
        self.late_ticks = 0  # ticks that ran more than one period after their deadline
        self.skipped_ticks = 0

    @property
    def running(self) -> bool:
        return self._handle is not None

    def __len__(self) -> int:
        return len(self._members)

    @property
    def next_deadline(self) -> float | None:
        """The grid time of the next tick, or None when the clock is stopped."""
        return self._deadline(self._k) if self._handle is not None else None

    def add(self, member: Tickable | EffectTickable) -> None:
        phases = getattr(member, "clock_phases", None)
        if phases is not None:
            self._members[id(member)] = phases()
            return
        send, receive = getattr(member, "send_tick", None), getattr(member, "receive_tick", None)
        settle = getattr(member, "settle_tick", None)
        if send is None or receive is None:
            send, receive, settle = getattr(member, "tick"), None, None  # noqa: B009 - a Tickable
        self._members[id(member)] = (send, receive, settle, _no_effects)

    def add_batch(self, run: Callable[[], None]) -> None:
        """Run ``run()`` every tick after every member's receive phase, before their settle phases."""
        self._batches.append(run)

    def discard(self, member: Tickable | EffectTickable) -> None:
        self._members.pop(id(member), None)

    def start(self) -> None:
        if self._handle is not None:
            return
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        self._start = loop.time() + self.period
        self._k = 0
        self._handle = loop.call_at(self._start, self._fire)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _deadline(self, k: int) -> float:
        return self._start + k * self.period  # from the grid origin: no accumulated float error

    def _fire(self) -> None:
        loop = self._loop
        assert loop is not None
        now = loop.time()
        k = self._k
        # Run this tick and any missed ones that are still within the catch-up window.
        behind = int((now - self._deadline(k)) / self.period)
        if behind > self.max_catch_up:
            skipped = behind - self.max_catch_up
            self.skipped_ticks += skipped
            TICKS_SKIPPED.inc(skipped)
            k += skipped
            behind = self.max_catch_up
        if behind >= 1:
            self.late_ticks += 1
        for step in range(behind + 1):
            self._tick_all(self._deadline(k + step))
        self._k = k + behind + 1
        self._handle = loop.call_at(self._deadline(self._k), self._fire)

    def run_tick(self, deadline: float) -> None:
        """One tick of every member, as the timer runs it (for a bench or a test driving the clock)."""
        self._tick_all(deadline)

    def _tick_all(self, deadline: float) -> None:
        self.ticks += 1
        members = tuple(self._members.values())
        for send, _, _, carry in members:
            try:
                effects = send(deadline)
                if effects:
                    carry(effects)
            except Exception:
                TICK_ERRORS.inc()
                log.exception("media session tick failed")
        for _, receive, _, carry in members:
            if receive is None:
                continue
            try:
                effects = receive(deadline)
                if effects:
                    carry(effects)
            except Exception:
                TICK_ERRORS.inc()
                log.exception("media session tick failed")
        for run in self._batches:
            try:
                run()
            except Exception:  # the members' settle phases still run (on their last decisions)
                TICK_ERRORS.inc()
                log.exception("media clock batch failed")
        for _, _, settle, carry in members:
            if settle is None:
                continue
            try:
                effects = settle(deadline)
                if effects:
                    carry(effects)
            except Exception:
                TICK_ERRORS.inc()
                log.exception("media session tick failed")
