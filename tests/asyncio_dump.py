"""On a pytest-timeout in an async test, print every asyncio task and the await chain it is suspended
in, before pytest-timeout's own thread dump.

pytest-timeout shows threads only, and a hung async test shows just the main thread in the event loop's
``select``: which ``await`` never returned is lost. ``Task.get_stack()`` does not help either (a
suspended coroutine's frame has no ``f_back``), so the chain is walked by hand through ``cr_await``.
"""

from __future__ import annotations

import asyncio
import signal
import types
from collections.abc import Generator, Iterator
from typing import Any

import pytest


def await_chain(task: asyncio.Task[Any]) -> Iterator[str]:
    """`file:line in function` for each coroutine of the chain, outermost first, then what the innermost
    one waits on (a future, an event's waiter)."""
    awaitable: Any = task.get_coro()
    while awaitable is not None:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None)
        if isinstance(frame, types.FrameType):
            code = frame.f_code
            yield f"{code.co_filename}:{frame.f_lineno} in {code.co_name}"
        elif frame is None and not hasattr(awaitable, "cr_await") and not hasattr(awaitable, "gi_yieldfrom"):
            yield f"waiting on {awaitable!r}"
            return
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None)


def dump_tasks(write: Any) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # not inside an event loop: the thread dump says it all
    tasks = sorted(asyncio.all_tasks(loop), key=lambda t: t.get_name())
    write(f"{len(tasks)} asyncio tasks of the running loop:\n")
    for task in tasks:
        write(f"--- task {task.get_name()}\n")
        for line in await_chain(task):
            write(f"    {line}\n")


@pytest.hookimpl(wrapper=True)
def pytest_timeout_set_timer(item: pytest.Item, settings: Any) -> Generator[None, Any, Any]:
    result = yield
    if settings.method == "signal":
        original = signal.getsignal(signal.SIGALRM)
        terminal = item.config.get_terminal_writer()

        def handler(signum: int, frame: types.FrameType | None) -> None:
            terminal.sep("+", title="asyncio tasks at the timeout")
            dump_tasks(terminal.write)
            if callable(original):
                original(signum, frame)

        signal.signal(signal.SIGALRM, handler)
    return result
