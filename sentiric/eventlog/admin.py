"""Topic set-up: create the platform's topics with their partitions, replicas, retention and compaction.

Replication comes from `topic_replication` (3 on the local three-node cluster, see settings.py). A
topic with three or more replicas also gets `min.insync.replicas` = a majority of them (2 of 3): with
the producers' acks=all a write is on two brokers before it is acknowledged, and losing any one broker
neither loses an acknowledged fact nor stops the writes.

`prepare_topics(settings, ...)` is the one place a process sets up the log before it uses it: the
platform's topics (`topics.platform_topics`: partitions, retention and replication from the settings)
plus the process's own (the API's private read-side names, the worker's Faust changelogs), created if
missing. The edge, the gateway, the worker, the API and `sentiric up` all call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import InvalidReplicationFactorError, TopicAlreadyExistsError

from sentiric.eventlog.cancel import raise_if_cancelled
from sentiric.eventlog.connection import client_options
from sentiric.eventlog.topics import TopicSpec, platform_topics
from sentiric.settings import Settings

log = structlog.get_logger(__name__)


async def ensure_topics(specs: list[TopicSpec], *, replication: int = 1, **client: Any) -> list[str]:
    """Create the topics that do not exist yet; returns the names created. Existing topics are left as
    they are (partition counts are never changed behind a running consumer group's back)."""
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [s for s in specs if s.name not in existing]
        if not wanted:
            return []
        durable = min_insync_config(replication)
        response = await admin.create_topics(
            [
                NewTopic(s.name, s.partitions, replication, topic_configs={**durable, **s.config})
                for s in wanted
            ]
        )
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code == InvalidReplicationFactorError.errno:
                brokers = len(admin._client.cluster.brokers())
                raise RuntimeError(
                    f"could not create topic {name} with {replication} replicas on {brokers} broker(s): "
                    "set SENTIRIC_TOPIC_REPLICATION"
                )
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"could not create topic {name}: Kafka error code {code}")
        log.info("topics created", topics=created)
        return created
    finally:
        await admin.close()


def topic_specs(
    settings: Settings, *, node_ids: tuple[str, ...] | None = None, extra: Iterable[TopicSpec] = ()
) -> list[TopicSpec]:
    """The platform's topics for these settings (command topics for `node_ids`, default: this node's;
    none for `()`), then the `extra` ones whose names are not among them."""
    specs = platform_topics(
        partitions=settings.topic_partitions,
        calls_retention_ms=settings.calls_retention_ms,
        node_ids=(settings.node_id,) if node_ids is None else node_ids,
    )
    names = {s.name for s in specs}
    for spec in extra:
        if spec.name not in names:  # the platform's declaration of a topic wins
            names.add(spec.name)
            specs.append(spec)
    return specs


async def prepare_topics(
    settings: Settings,
    *,
    node_ids: tuple[str, ...] | None = None,
    extra: Iterable[TopicSpec] = (),
    client: dict[str, Any] | None = None,
) -> list[str]:
    """Create what `topic_specs` lists and the log does not have yet; returns the names created.
    `client`: the connection options, default `client_options(settings)`."""
    return await ensure_topics(
        topic_specs(settings, node_ids=node_ids, extra=extra),
        replication=settings.topic_replication,
        **(client if client is not None else client_options(settings)),
    )


def min_insync_config(replication: int) -> dict[str, str]:
    """Topic config for `replication` replicas: a majority must acknowledge a write (from 3 replicas)."""
    if replication < 3:
        return {}
    return {"min.insync.replicas": str(replication // 2 + 1)}


async def partition_count(topic: str, **client: Any) -> int:
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return len(described[0]["partitions"])
    finally:
        await admin.close()
        raise_if_cancelled()  # close() swallows a cancel that arrives while it waits (cancel.py)
