"""A cancel that aiokafka swallowed, raised again.

aiokafka's close() methods wait for their background tasks inside ``suppress(CancelledError)``
(``AIOKafkaClient.close()`` awaits its metadata task that way; aio-libs/aiokafka#983 and #1000). A task
cancelled at that instant never sees its CancelledError: it carries on as if nothing had happened, and
if it then waits for ever — a follower that has loaded its topic and now just follows — whoever
cancelled it and awaits it waits for ever too. That is how an API's shutdown hung in CI: its config
view was cancelled while it closed the admin client that looked up the topic's partitions.

``Task.cancelling()`` (Python 3.11) still counts the request after the error was swallowed, so
`raise_if_cancelled()` after such a call re-raises it. A cancel that was handled on purpose (turned
into a TimeoutError by ``asyncio.timeout``) was withdrawn with ``uncancel()`` and does not count.
"""

from __future__ import annotations

import asyncio


def raise_if_cancelled() -> None:
    """Raise CancelledError if the current task was asked to cancel and the request was lost."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
