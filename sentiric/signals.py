"""Waiting for Ctrl-C or SIGTERM in a long-running asyncio process."""

from __future__ import annotations

import asyncio
import signal
import sys


def stop_event(exit_after: float | None = None) -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM (handlers on the running loop). With `exit_after`,
    the signal also arms a timer that ends the process that long after, should its shutdown hang (a
    producer flushing to a dead broker)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def signalled() -> None:
        if exit_after is not None and not stop.is_set():
            from sentiric.processes import hard_exit_after

            hard_exit_after(exit_after, sys.argv[-1] if sys.argv else "process")
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, signalled)
    return stop


async def until_signalled() -> None:
    """Return when SIGINT or SIGTERM arrives; the process ends `shutdown_timeout_s` later at most."""
    from sentiric.settings import get_settings

    await stop_event(get_settings().shutdown_timeout_s).wait()
