"""The config view stopped while it is still loading stops its follower too (its consumer runs already)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sentiric.eventlog import config_view
from sentiric.eventlog.config_view import ConfigView


class LoadingFollower:
    """A follower whose start() is still loading the topic when the view is cancelled."""

    def __init__(self, loading: asyncio.Queue[LoadingFollower]) -> None:
        self._loading = loading
        self.stopped = False

    async def start(self) -> None:
        self._loading.put_nowait(self)
        await asyncio.Event().wait()

    async def stop(self) -> None:
        self.stopped = True


async def test_cancelled_while_loading_stops_the_follower(monkeypatch: pytest.MonkeyPatch) -> None:
    loading: asyncio.Queue[LoadingFollower] = asyncio.Queue()

    def follower(*args: Any, **kwargs: Any) -> LoadingFollower:
        return LoadingFollower(loading)

    monkeypatch.setattr(config_view, "TopicFollower", follower)  # the seam: the topic reader
    view = ConfigView()
    task = asyncio.create_task(view.follow("config", bootstrap_servers="127.0.0.1:1"))
    loader = await asyncio.wait_for(loading.get(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)
    assert loader.stopped and not view.ready.is_set()
