"""Waiting for Ctrl-C or SIGTERM in a long-running asyncio process."""

from __future__ import annotations

import asyncio
import signal


def stop_event() -> asyncio.Event:
    """An event set by the first SIGINT or SIGTERM (handlers on the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def until_signalled() -> None:
    """Return when SIGINT or SIGTERM arrives."""
    await stop_event().wait()
