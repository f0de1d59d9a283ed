"""Runs a pure call watcher inside the edge process.

The edge has watchers that follow a call's facts and act on their own — the greeting watchdog
(:mod:`edge.uas.fallback`: never an answered silent call) and the announcement of a
``prompt_hangup`` plan (:mod:`edge.uas.prompt_hangup`).  Each is pure: ``observe(fact, now)`` and
``due(now)`` return actions.  :class:`WatcherDriver` is the one asyncio shell they share: it shows
the watcher every fact the edge records, checks its deadlines every tick, hands the actions to an
``apply`` function *later* (carrying an action out records facts, which must not happen inside the
recorder's own ``record``), and owns the tasks those actions start so ``stop`` can end them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final, Generic, Protocol, TypeVar

import structlog

from schemas import models as f

log = structlog.get_logger(__name__)

TICK_S: Final = 0.25
"""Deadlines are checked this often (one scan of the watched calls; ± 0.25 s is precise enough)."""
SESSION_WAIT_S: Final = 3.0

A = TypeVar("A")
A_co = TypeVar("A_co", covariant=True)


class Watcher(Protocol[A_co]):
    def observe(self, fact: Any, now: float) -> Sequence[A_co]: ...

    def due(self, now: float) -> Sequence[A_co]: ...


class WatcherDriver(Generic[A]):
    def __init__(self, watcher: Watcher[A], apply: Callable[[Sequence[A]], None], *, name: str) -> None:
        self.watcher = watcher
        self._apply = apply
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, tick_s: float = TICK_S) -> None:
        self._loop = asyncio.get_running_loop()
        self._ticker = self._loop.create_task(self._tick(tick_s), name=self._name)

    def observe(self, record: Any) -> None:
        """Every record the edge publishes; facts go to the watcher (nothing before ``start``)."""
        if self._loop is None or not isinstance(record, f.Fact):
            return
        actions = self.watcher.observe(record, self._loop.time())
        if actions:  # later, not inside the recorder's record
            self._loop.call_soon(self._apply, actions)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run an action's asynchronous part; ``stop`` cancels what is still running."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tick(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            try:
                self._apply(self.watcher.due(loop.time()))
            except Exception:  # one failed action must not end the watcher
                log.exception("call watcher action failed", watcher=self._name)

    async def stop(self) -> None:
        tasks = list(self._tasks) + ([self._ticker] if self._ticker is not None else [])
        for task in tasks:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def wait_for_media_session(engine: Any, call_id: str, wait_s: float = SESSION_WAIT_S) -> None:
    """The ACK can beat the media session's opening (the driver binds its sockets asynchronously):
    what plays on the call waits for its session, a little — polled, the engine has no event for it.
    Past ``wait_s`` the caller goes on and the play fails or finds the session; the watcher's own
    deadline ends the call either way."""
    session = getattr(engine, "session", None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while session is not None and session(call_id) is None:
        if loop.time() > deadline:
            return
        await asyncio.sleep(0.02)
