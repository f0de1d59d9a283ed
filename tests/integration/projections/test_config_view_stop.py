"""The CI hang, pinned: the API stops (cancels its config view) just as the view, still loading, closes
the admin client that looked up the config topic's partitions. aiokafka's close() swallows that cancel
(`sentiric.eventlog.cancel`); the view used to load the topic anyway and then follow it for ever, and
the API's shutdown awaited it for ever. Real broker and aiokafka; only the instant of the cancel is
arranged, by a subclass of the admin client."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from sentiric.eventlog import admin
from sentiric.eventlog.config_view import ConfigView

from .conftest import Env


class StoppedWhileClosing(AIOKafkaAdminClient):  # type: ignore[misc]
    closes = 0

    async def close(self) -> None:
        StoppedWhileClosing.closes += 1
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # the API stopping, at this very instant
        await super().close()


async def test_a_config_view_cancelled_while_its_admin_client_closes_stops(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(admin, "AIOKafkaAdminClient", StoppedWhileClosing)
    view = ConfigView()
    task = asyncio.create_task(view.follow(env.topics.config, **env.client), name="config-view")
    done, _ = await asyncio.wait({task}, timeout=60)
    assert done, "the config view ran on after its cancel"
    assert task.cancelled() and StoppedWhileClosing.closes == 1
    assert not view.ready.is_set()  # it stopped where it was cancelled: it never went on to follow
