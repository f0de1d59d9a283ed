"""Topic names and their configurations (DESIGN.md, "The log").

- `sentiric.calls`: every call fact, key = call_id, so one call's facts are totally ordered.
- `sentiric.commands.<node>`: commands addressed to the edge that owns the call, key = call_id.
- `sentiric.config`: compacted; dialplans, users, knowledge entries, prompts, webhooks, key = "<kind>:<id>".
- `sentiric.metrics`: analytics windows (KpiWindowReported), key = window start.
- `sentiric.workers`: compacted; dialog workers' heartbeats (WorkerHeartbeat), key = worker id.
- `sentiric.cdr`: compacted; the call detail record of every call (CallDetailRecord), key = call_id,
  partial while the call runs, the latest one complete once it ended (streams.agents.cdr).
- `sentiric.deadletter`: records a consumer set aside (undecodable, or not applicable), byte for byte,
  with their original topic/partition/offset, the error and the consumer in headers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CALLS = "sentiric.calls"
CONFIG = "sentiric.config"
METRICS = "sentiric.metrics"
WORKERS = "sentiric.workers"
CDR = "sentiric.cdr"
DEADLETTER = "sentiric.deadletter"
WEBHOOK_DEADLETTER = "sentiric.webhooks.deadletter"
COMMANDS_PREFIX = "sentiric.commands."

# Dead-letter headers (bytes values): where the message came from and why it was set aside.
DLQ_TOPIC = "sentiric.dlq.topic"
DLQ_PARTITION = "sentiric.dlq.partition"
DLQ_OFFSET = "sentiric.dlq.offset"
DLQ_ERROR = "sentiric.dlq.error"
DLQ_CONSUMER = "sentiric.dlq.consumer"


def commands_topic(node_id: str) -> str:
    return f"{COMMANDS_PREFIX}{node_id}"


def config_key(kind: str, entity_id: str) -> str:
    """Key on the compacted config topic, e.g. `dialplan:default`."""
    return f"{kind}:{entity_id}"


MAX_MESSAGE_BYTES = 8 * 1024 * 1024
"""Largest record on the call and command topics (Kafka's and Redpanda's default is 1 MiB). Speech
travels in the log: a `SpeechSynthesized` or `PlayAudio` of 16 kHz PCM is 32 KB per second, so the
default would refuse any reply longer than about 32 s. Producers that may write audio set
``max_request_size`` to this; consumers need nothing (a record larger than their fetch size is still
returned, KIP-74)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def platform_topics(
    *, partitions: int, calls_retention_ms: int, node_ids: tuple[str, ...] = ("edge-1",)
) -> list[TopicSpec]:
    """The topics Sentiric needs. Call and command topics share a partition count so they co-partition."""
    retention = {"retention.ms": str(calls_retention_ms)}
    audio = {**retention, "max.message.bytes": str(MAX_MESSAGE_BYTES)}
    return [
        TopicSpec(CALLS, partitions, audio),
        *(TopicSpec(commands_topic(n), partitions, audio) for n in node_ids),
        TopicSpec(CONFIG, 1, {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        TopicSpec(METRICS, 1, retention),
        # Heartbeats: only the newest per worker matters; an hour keeps a dead worker's last one short.
        TopicSpec(
            WORKERS,
            1,
            {"cleanup.policy": "compact,delete", "retention.ms": "3600000", "min.compaction.lag.ms": "0"},
        ),
        # Co-partitioned with the calls; compacted: a call's latest record is its CDR. No time retention.
        TopicSpec(CDR, partitions, {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
        TopicSpec(DEADLETTER, 1, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
        TopicSpec(WEBHOOK_DEADLETTER, 1, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    ]
