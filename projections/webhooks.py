"""Outbound webhooks (the connectors): matching call facts POSTed as signed JSON.

An admin registers a `WebhookSubscription` (URL, event types or `*`, secret) on `sentiric.config`.
For each enabled subscription the dispatcher runs one worker with its own log consumer, its own
HTTP client and its own offsets, so a slow or dead endpoint only ever delays itself.

Delivery of one fact:

    POST <url>
    Content-Type: application/json
    X-Sentiric-Signature: sha256=<hex HMAC-SHA256(secret, body)>
    X-Sentiric-Event-Id: <event_id>          (receivers de-duplicate on it)
    X-Sentiric-Event-Type: <type>
    X-Sentiric-Subscription: <subscription id>

    {"type": "CallEnded", "event_id": ..., "call_id": ..., ..., "log": {"topic", "partition", "offset"}}

The body is `to_json_dict(fact, include_audio=False)` (audio replaced by its length). A 2xx is
success. Connection errors, timeouts, 408, 425, 429 and 5xx are retried with exponential backoff
(`RetryPolicy`); any other 4xx, a target refused by `projections.webhook_targets` (a private or
loopback address, unless `RetryPolicy.allow_private_targets`), or the last failed retry, parks the fact on
`sentiric.webhooks.deadletter` (original bytes, with the subscription, error and origin in headers).
`replay_parked` re-delivers a subscription's parked facts. A fact the worker cannot even prepare (its
payload fails to build) is set aside instead: logged with its topic/partition/offset, counted in
``sentiric_log_dead_lettered_total{consumer="webhook:<id>"}``, copied to `sentiric.deadletter`, and
the worker goes on with the next one; an unexpected error while delivering parks the fact like a
refused delivery.

Progress: `webhook_offsets(subscription_id, topic, partition, next_offset)` is updated after each
matching fact is delivered or parked (and after each batch of non-matching ones), so a restart
neither loses nor re-sends — except a crash between a delivery and that update, which re-sends that
one fact with the same X-Sentiric-Event-Id. A new subscription starts at the log position of its
registration time: every fact appended after the admin write is delivered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Final

import asyncpg
import httpx
import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import Counter

from projections.logtopics import LogTopics
from projections.projector import partition_counts
from projections.webhook_targets import TargetRefused, webhook_client
from schemas.codec import Codec, CodecError, default_codec, to_json_dict, type_name
from schemas.models import WebhookSubscription
from sentiric.eventlog import topics as log_topics
from sentiric.eventlog.cancel import raise_if_cancelled
from sentiric.eventlog.config_view import ConfigView
from sentiric.eventlog.consumer import DeadLetters, describe
from sentiric.eventlog.producer import EventProducer

log = structlog.get_logger(__name__)

SIGNATURE_HEADER: Final = "X-Sentiric-Signature"
SUBSCRIPTION_HEADER: Final = "sentiric.webhook.subscription"
ALL_TYPES: Final = "*"
RETRYABLE_STATUSES: Final = frozenset({408, 425, 429})
KEY_PREFIX: Final = "webhooksubscription:"

DELIVERED = Counter("sentiric_webhook_delivered_total", "Facts delivered to webhooks", ["subscription"])
PARKED = Counter("sentiric_webhook_parked_total", "Facts parked after failed delivery", ["subscription"])
ATTEMPTS = Counter("sentiric_webhook_attempts_total", "HTTP delivery attempts", ["subscription", "outcome"])


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 8
    base_s: float = 0.5
    max_s: float = 30.0
    timeout_s: float = 10.0
    allow_private_targets: bool = False  # deliver to private/loopback/link-local addresses (tests, labs)

    def delay(self, attempt: int) -> float:
        backoff: float = self.base_s * 2**attempt  # int ** int is typed Any (a float when negative)
        return min(self.max_s, backoff)


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign(body, secret), signature)


def matches(sub: WebhookSubscription, record: Any) -> bool:
    """The subscription wants this fact: enabled, its type, and its tenant's call (issue 15: a
    tenant's webhook never receives another tenant's facts)."""
    if not sub.enabled or not hasattr(record, "call_id"):
        return False
    if getattr(record, "tenant", "default") != sub.tenant:
        return False
    return ALL_TYPES in sub.event_types or type_name(record) in sub.event_types


def payload(record: Any, topic: str, partition: int, offset: int) -> bytes:
    body = to_json_dict(record, include_audio=False)
    body["log"] = {"topic": topic, "partition": partition, "offset": offset}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def headers(sub: WebhookSubscription, record: Any, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, sub.secret),
        "X-Sentiric-Event-Id": str(record.event_id),
        "X-Sentiric-Event-Type": type_name(record),
        "X-Sentiric-Subscription": sub.entity_id,
    }


async def deliver(
    http: httpx.AsyncClient, sub: WebhookSubscription, record: Any, body: bytes, policy: RetryPolicy
) -> str | None:
    """POST with retries; None when delivered, else the last error (the fact is to be parked)."""
    error = "no attempt made"
    for attempt in range(policy.attempts):
        try:
            response = await http.post(
                sub.url, content=body, headers=headers(sub, record, body), timeout=policy.timeout_s
            )
        except TargetRefused as exc:
            ATTEMPTS.labels(sub.entity_id, "refused").inc()
            return f"target refused: {exc}"  # retrying will not make the address public
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
            ATTEMPTS.labels(sub.entity_id, "error").inc()
        else:
            if 200 <= response.status_code < 300:
                ATTEMPTS.labels(sub.entity_id, "ok").inc()
                return None
            ATTEMPTS.labels(sub.entity_id, str(response.status_code)).inc()
            error = f"HTTP {response.status_code}"
            if response.status_code < 500 and response.status_code not in RETRYABLE_STATUSES:
                return error  # the endpoint refuses this fact: retrying will not help
        if attempt + 1 < policy.attempts:
            await asyncio.sleep(policy.delay(attempt))
    return error


class _Progress:
    """A subscription's stored offsets and counters."""

    def __init__(self, pool: asyncpg.Pool, subscription_id: str) -> None:
        self._pool = pool
        self._id = subscription_id

    async def load(self, topic: str) -> dict[int, int]:
        rows = await self._pool.fetch(
            "SELECT partition, next_offset FROM webhook_offsets WHERE subscription_id = $1 AND topic = $2",
            self._id,
            topic,
        )
        return {r["partition"]: r["next_offset"] for r in rows}

    async def commit(self, topic: str, partition: int, next_offset: int, outcome: str | None = None) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO webhook_offsets (subscription_id, topic, partition, next_offset) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (subscription_id, topic, partition) "
                "DO UPDATE SET next_offset = EXCLUDED.next_offset",
                self._id,
                topic,
                partition,
                next_offset,
            )
            if outcome is not None:
                column = {"delivered": "delivered", "parked": "parked", "replayed": "replayed"}[outcome]
                await conn.execute(
                    f"INSERT INTO webhook_deliveries (subscription_id, {column}) VALUES ($1, 1) "
                    f"ON CONFLICT (subscription_id) DO UPDATE SET {column} = webhook_deliveries.{column} + 1",
                    self._id,
                )

    async def forget(self) -> None:
        await self._pool.execute("DELETE FROM webhook_offsets WHERE subscription_id = $1", self._id)


class SubscriptionWorker:
    """Delivers one subscription's facts in log order, at the endpoint's own pace."""

    def __init__(
        self,
        sub: WebhookSubscription,
        *,
        pool: asyncpg.Pool,
        client: dict[str, Any],
        topics: LogTopics,
        producer: EventProducer,
        policy: RetryPolicy,
        codec: Codec | None = None,
        batch_max: int = 100,
    ) -> None:
        self.sub = sub
        self._client = client
        self._topics = topics
        self._producer = producer
        self._policy = policy
        self._codec = codec or default_codec()
        self._batch_max = batch_max
        self._progress = _Progress(pool, sub.entity_id)
        self.dead_letters = DeadLetters(producer, f"webhook:{sub.entity_id}")

    async def run(self) -> None:
        topic = self._topics.calls
        counts = await partition_counts([topic], **self._client)
        if not counts.get(topic):
            raise RuntimeError(f"topic {topic} has no partitions (yet)")
        partitions = [TopicPartition(topic, p) for p in range(counts[topic])]
        consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **self._client)
        await consumer.start()
        try:
            consumer.assign(partitions)
            await self._seek(consumer, partitions)
            async with webhook_client(allow_private=self._policy.allow_private_targets) as http:
                while True:
                    batch = await consumer.getmany(timeout_ms=500, max_records=self._batch_max)
                    for tp in sorted(batch):
                        await self._handle(http, tp, batch[tp])
        finally:
            await consumer.stop()

    async def _seek(self, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
        stored = await self._progress.load(self._topics.calls)
        missing = [tp for tp in partitions if tp.partition not in stored]
        if missing:
            since = int(self.sub.occurred_at.timestamp() * 1000)
            # The ends first: a fact appended between the two look-ups is then either found by time
            # or at/after the end snapshot — never skipped.
            ends = await consumer.end_offsets(missing)
            found = await consumer.offsets_for_times({tp: since for tp in missing})
            for tp in missing:
                start = found[tp].offset if found.get(tp) is not None else ends[tp]
                await self._progress.commit(tp.topic, tp.partition, start)
                stored[tp.partition] = start
        for tp in partitions:
            consumer.seek(tp, stored[tp.partition])

    async def _handle(
        self, http: httpx.AsyncClient, tp: TopicPartition, messages: list[ConsumerRecord[bytes, bytes]]
    ) -> None:
        pending_skip: int | None = None
        for msg in messages:
            try:
                record = self._decode(msg)
                wanted = record is not None and matches(self.sub, record)
                body = payload(record, msg.topic, msg.partition, msg.offset) if wanted else b""
            except Exception as exc:  # one fact never stops the subscription
                self.dead_letters.set_aside(msg, exc)
                await self._producer.flush()
                wanted = False
            if not wanted:
                pending_skip = msg.offset + 1
                continue
            try:
                error = await deliver(http, self.sub, record, body, self._policy)
            except Exception as exc:  # e.g. a URL httpx refuses: a delivery failure like any other
                error = describe(exc)
            if error is None:
                DELIVERED.labels(self.sub.entity_id).inc()
                await self._progress.commit(tp.topic, tp.partition, msg.offset + 1, "delivered")
            else:
                await self._park(msg, error)
                await self._progress.commit(tp.topic, tp.partition, msg.offset + 1, "parked")
            pending_skip = None
        if pending_skip is not None:
            await self._progress.commit(tp.topic, tp.partition, pending_skip)

    def _decode(self, msg: ConsumerRecord[bytes, bytes]) -> Any | None:
        if msg.value is None:
            return None
        try:
            return self._codec.decode(msg.value)
        except CodecError:
            return None  # the projector dead-letters corrupt facts; nothing to deliver

    async def _park(self, msg: ConsumerRecord[bytes, bytes], error: str) -> None:
        log.warning(
            "webhook delivery parked", subscription=self.sub.entity_id, offset=msg.offset, error=error
        )
        PARKED.labels(self.sub.entity_id).inc()
        self._producer.publish_raw(
            self._topics.webhook_deadletter,
            msg.key,
            msg.value,
            (
                (SUBSCRIPTION_HEADER, self.sub.entity_id.encode()),
                (log_topics.DLQ_TOPIC, msg.topic.encode()),
                (log_topics.DLQ_PARTITION, str(msg.partition).encode()),
                (log_topics.DLQ_OFFSET, str(msg.offset).encode()),
                (log_topics.DLQ_ERROR, error.encode()),
            ),
        )
        await self._producer.flush()


@dataclass(frozen=True, slots=True)
class ReplayResult:
    delivered: int
    parked: int


async def replay_parked(
    sub: WebhookSubscription,
    *,
    pool: asyncpg.Pool,
    client: dict[str, Any],
    topics: LogTopics,
    producer: EventProducer,
    policy: RetryPolicy,
    codec: Codec | None = None,
) -> ReplayResult:
    """Re-deliver the subscription's parked facts (those parked since the last replay). A fact that
    fails again is parked again, behind the replay cursor, for the next replay."""
    codec = codec or default_codec()
    progress = _Progress(pool, sub.entity_id)
    tp = TopicPartition(topics.webhook_deadletter, 0)
    worker = SubscriptionWorker(
        sub, pool=pool, client=client, topics=topics, producer=producer, policy=policy, codec=codec
    )
    consumer = AIOKafkaConsumer(enable_auto_commit=False, auto_offset_reset="earliest", **client)
    await consumer.start()
    delivered = parked = 0
    try:
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        start = (await progress.load(tp.topic)).get(0)
        if start is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, start)
        async with webhook_client(allow_private=policy.allow_private_targets) as http:
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=100)
                for msg in batch.get(tp, []):
                    if msg.offset >= end:
                        break
                    mine = dict(msg.headers or ()).get(SUBSCRIPTION_HEADER) == sub.entity_id.encode()
                    record = worker._decode(msg) if mine else None
                    outcome = None
                    if record is not None:
                        body = payload(record, topics.calls, -1, -1)
                        error = await deliver(http, sub, record, body, policy)
                        if error is None:
                            delivered += 1
                            outcome = "replayed"
                        else:
                            parked += 1
                            await worker._park(msg, error)
                    await progress.commit(tp.topic, 0, msg.offset + 1, outcome)
    finally:
        await consumer.stop()
    return ReplayResult(delivered, parked)


class WebhookDispatcher:
    """Keeps one `SubscriptionWorker` task per enabled subscription in the config view."""

    def __init__(
        self,
        view: ConfigView,
        *,
        pool: asyncpg.Pool,
        client: dict[str, Any],
        topics: LogTopics,
        producer: EventProducer,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._view = view
        self._pool = pool
        self._client = client
        self._topics = topics
        self._producer = producer
        self.policy = policy or RetryPolicy()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._changes: asyncio.Queue[tuple[str, WebhookSubscription | None]] = asyncio.Queue(maxsize=10_000)
        view.subscribe(self._on_change)

    def _on_change(self, key: str, record: Any | None) -> None:
        if key.startswith(KEY_PREFIX):
            with contextlib.suppress(asyncio.QueueFull):
                self._changes.put_nowait((key[len(KEY_PREFIX) :], record))

    @property
    def running(self) -> list[str]:
        return sorted(k for k, t in self._tasks.items() if not t.done())

    async def run(self) -> None:
        await self._view.ready.wait()
        for sub in self._view.all(WebhookSubscription):
            self._start(sub)
        try:
            while True:
                sub_id, record = await self._changes.get()
                await self._stop(sub_id)
                # _stop() swallows the dispatcher's own cancel if it lands while it waits for the
                # worker: raised again here, or the dispatcher would go on waiting for changes.
                raise_if_cancelled()
                if isinstance(record, WebhookSubscription):
                    self._start(record)
                elif record is None:
                    await _Progress(self._pool, sub_id).forget()
        finally:
            for sub_id in list(self._tasks):
                await self._stop(sub_id)

    def _start(self, sub: WebhookSubscription) -> None:
        if not sub.enabled:
            return
        worker = SubscriptionWorker(
            sub,
            pool=self._pool,
            client=self._client,
            topics=self._topics,
            producer=self._producer,
            policy=self.policy,
        )
        self._tasks[sub.entity_id] = asyncio.create_task(_supervise(worker), name=f"webhook-{sub.entity_id}")

    async def _stop(self, sub_id: str) -> None:
        task = self._tasks.pop(sub_id, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _supervise(worker: SubscriptionWorker) -> None:
    while True:
        try:
            await worker.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("webhook worker failed, restarting in 2 s", subscription=worker.sub.entity_id)
            await asyncio.sleep(2.0)
