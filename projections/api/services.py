"""What the API process runs and shares: the pool, the producer, the config view, and the background
tasks (projector, config follower, webhook dispatcher), started and stopped by the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI, Request

from projections.logtopics import LogTopics
from projections.pool import open_pool
from projections.projector import Projector, run_projector
from projections.webhooks import RetryPolicy, WebhookDispatcher
from sentiric.eventlog.config_view import ConfigView
from sentiric.eventlog.producer import EventProducer

log = structlog.get_logger(__name__)
HEALTH_TIMEOUT_S = 3.0


@dataclass(frozen=True, slots=True)
class ApiConfig:
    dsn: str
    client: dict[str, Any]
    admin_token: str  # the bootstrap platform-admin token (SENTIRIC_ADMIN_TOKEN)
    topics: LogTopics = field(default_factory=LogTopics)
    session_secret: str | None = None  # None: derived from admin_token (sentiric.auth)
    session_ttl_s: float = 12 * 3600
    recordings_root: Path | None = None  # file:// recordings are served only from under it; None: none
    run_projector: bool = True
    run_webhooks: bool = True
    webhook_policy: RetryPolicy = field(default_factory=RetryPolicy)
    pool_size: int = 10


@dataclass
class Services:
    config: ApiConfig
    pool: asyncpg.Pool
    producer: EventProducer
    view: ConfigView
    projector: Projector | None = None
    dispatcher: WebhookDispatcher | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _admin: AIOKafkaAdminClient | None = None

    async def database_ok(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                return await self.pool.fetchval("SELECT 1") == 1
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False

    async def broker_ok(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                if self._admin is None:
                    # Kept before start() so a start cut short by the timeout is still closed below:
                    # a half-started client otherwise leaks its bootstrap task.
                    self._admin = AIOKafkaAdminClient(**self.config.client)
                    await self._admin.start()
                await self._admin.describe_cluster()
                return True
        except Exception as exc:  # aiokafka raises many kinds; any of them means "not reachable"
            log.warning("broker health check failed", error=str(exc))
            if self._admin is not None:
                with contextlib.suppress(Exception):
                    await self._admin.close()
                self._admin = None
            return False

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
        await self.producer.stop()
        await self.pool.close()


@contextlib.asynccontextmanager
async def running_services(config: ApiConfig) -> AsyncIterator[Services]:
    pool = await open_pool(config.dsn, max_size=config.pool_size)
    producer = EventProducer(**config.client)
    await producer.start()
    view = ConfigView()
    services = Services(config, pool, producer, view)
    services.tasks.append(
        asyncio.create_task(
            view.follow(config.topics.config, dead_letters=producer, **config.client), name="config-view"
        )
    )
    if config.run_projector:
        services.projector = Projector(
            pool, topics=config.topics.projected, client=config.client, dead_letters=producer
        )
        services.tasks.append(asyncio.create_task(run_projector(services.projector), name="projector"))
    if config.run_webhooks:
        services.dispatcher = WebhookDispatcher(
            view,
            pool=pool,
            client=config.client,
            topics=config.topics,
            producer=producer,
            policy=config.webhook_policy,
        )
        services.tasks.append(asyncio.create_task(services.dispatcher.run(), name="webhooks"))
    try:
        yield services
    finally:
        await services.close()


def services(request: Request) -> Services:
    return request.app.state.services


def lifespan_for(config: ApiConfig) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_services(config) as svc:
            app.state.services = svc
            yield

    return lifespan
