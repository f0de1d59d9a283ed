"""What the API process runs and shares: the pool, the producer, the config view, and the background
tasks (projector, config follower, webhook dispatcher), started and stopped by the app's lifespan.

Every step of the start and of the stop is bounded: a database or log that does not answer fails the
start with `ServiceStartError` naming what it waited for, and a stop logs what did not finish in time
and goes on, so a process (or a test) never hangs in its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

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
T = TypeVar("T")
HEALTH_TIMEOUT_S = 3.0
# Generous: a first start applies the migrations, and a loaded machine is slow; never unbounded.
START_TIMEOUT_S = 60.0
# Per stop step: background tasks after their cancel, the producer's flush and close, the pool.
STOP_TIMEOUT_S = 10.0
# A cancelled task still running after this is cancelled again (a library may have swallowed the first).
RECANCEL_S = 2.0


class ServiceStartError(RuntimeError):
    """A dependency did not become ready at start within its deadline."""


async def start_step(what: str, step: Awaitable[T], within_s: float = START_TIMEOUT_S) -> T:
    try:
        async with asyncio.timeout(within_s):
            return await step
    except TimeoutError:
        raise ServiceStartError(f"API start: {what} did not answer within {within_s:g} s") from None


@dataclass(frozen=True, slots=True)
class ApiConfig:
    dsn: str
    client: dict[str, Any]
    admin_token: str  # the bootstrap platform-admin token (SENTIRIC_ADMIN_TOKEN)
    topics: LogTopics = field(default_factory=LogTopics)
    session_secret: str | None = None  # None: derived from admin_token (sentiric.auth)
    session_ttl_s: float = 12 * 3600
    recordings_root: Path | None = None  # file:// recordings are served only from under it; None: none
    golden_root: Path | None = None  # POST /api/calls/{id}/golden exports here; None: the button is off
    run_projector: bool = True
    run_webhooks: bool = True
    webhook_policy: RetryPolicy = field(default_factory=RetryPolicy)
    pool_size: int = 10
    originate_edge: str = "edge-1"  # the edge node POST /api/calls sends OriginateCall to by default
    sample_action_url: str | None = None  # the built-in sample booking endpoint, allowed on loopback
    write_timeout_s: float = 10.0  # an admin write not acknowledged by the log by then: 503 (writes.py)
    listen_grpc: str = "127.0.0.1:50051"  # the edge's MediaService, relayed by listen-in (listen.py)


@dataclass
class Services:
    config: ApiConfig
    pool: asyncpg.Pool
    producer: EventProducer
    view: ConfigView
    projector: Projector | None = None
    dispatcher: WebhookDispatcher | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    golden_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one golden export at a time
    _admin: AIOKafkaAdminClient | None = None

    async def database_ok(self) -> bool:
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                answer = await self.pool.fetchval("SELECT 1")
                return bool(answer == 1)
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
        await stop_tasks(self.tasks)
        if self._admin is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(STOP_TIMEOUT_S):
                    await self._admin.close()
        await self.producer.stop(flush_timeout=STOP_TIMEOUT_S, close_timeout=STOP_TIMEOUT_S)
        await close_pool(self.pool)


async def stop_tasks(
    tasks: list[asyncio.Task[Any]], within_s: float = STOP_TIMEOUT_S, recancel_s: float = RECANCEL_S
) -> None:
    """Cancel the tasks and wait for them, at most `within_s`. The cancel is repeated every
    `recancel_s`: aiokafka's close() methods swallow one that arrives while they wait
    (`sentiric.eventlog.cancel`), and a task that lost it would otherwise run on for ever. A task still
    running at the deadline is logged by name and left behind rather than waited on for ever."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    pending = set(tasks)
    while pending:
        for task in pending:
            task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            break
        _, pending = await asyncio.wait(pending, timeout=min(recancel_s, left))
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.warning(
                "background task ended with an error", task=task.get_name(), error=repr(task.exception())
            )
    for task in pending:
        log.error("background task did not stop after its cancel", task=task.get_name(), within_s=within_s)


async def close_pool(pool: asyncpg.Pool, within_s: float = STOP_TIMEOUT_S) -> None:
    """asyncpg's close() waits until every connection is released; past `within_s` the pool is
    terminated instead (asyncpg terminates it when its close is cancelled)."""
    try:
        async with asyncio.timeout(within_s):
            await pool.close()
    except TimeoutError:
        log.error("database pool did not close in time; terminated", within_s=within_s)
        pool.terminate()


@contextlib.asynccontextmanager
async def running_services(config: ApiConfig) -> AsyncIterator[Services]:
    pool = await start_step(
        "the database (connect and migrate)", open_pool(config.dsn, max_size=config.pool_size)
    )
    producer = EventProducer(**config.client)
    try:
        await start_step("the log (producer start)", producer.start())
    except BaseException:
        await close_pool(pool)
        raise
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
    from projections.api import sample  # imports this module

    sample.start(services)  # the sample booking action on first run, when configured
    try:
        yield services
    finally:
        await services.close()


def services(request: Request) -> Services:
    found: Services = request.app.state.services  # set by the lifespan; Starlette's state is untyped
    return found


def lifespan_for(config: ApiConfig) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_services(config) as svc:
            app.state.services = svc
            yield

    return lifespan
