"""Topic set-up: create the platform's topics with their partitions, retention and compaction."""

from __future__ import annotations

from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from sentiric.eventlog.topics import TopicSpec

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
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, replication, topic_configs=dict(s.config)) for s in wanted]
        )
        created = []
        for name, code, *_ in response.topic_errors:
            if code == 0:
                created.append(name)
            elif code != TopicAlreadyExistsError.errno:
                raise RuntimeError(f"could not create topic {name}: Kafka error code {code}")
        log.info("topics created", topics=created)
        return created
    finally:
        await admin.close()


async def partition_count(topic: str, **client: Any) -> int:
    admin = AIOKafkaAdminClient(**client)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
        return len(described[0]["partitions"])
    finally:
        await admin.close()
