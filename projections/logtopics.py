"""The topic names the read side uses, as one value (tests give each run its own names)."""

from __future__ import annotations

from dataclasses import dataclass

from sentiric.eventlog import topics


@dataclass(frozen=True, slots=True)
class LogTopics:
    calls: str = topics.CALLS
    metrics: str = topics.METRICS
    config: str = topics.CONFIG
    webhook_deadletter: str = topics.WEBHOOK_DEADLETTER
    commands_prefix: str = topics.COMMANDS_PREFIX

    @classmethod
    def prefixed(cls, prefix: str) -> LogTopics:
        """Private copies of every topic, e.g. `t1.sentiric.calls` (for tests on a shared broker)."""
        return cls(
            calls=f"{prefix}.{topics.CALLS}",
            metrics=f"{prefix}.{topics.METRICS}",
            config=f"{prefix}.{topics.CONFIG}",
            webhook_deadletter=f"{prefix}.{topics.WEBHOOK_DEADLETTER}",
            commands_prefix=f"{prefix}.{topics.COMMANDS_PREFIX}",
        )

    @property
    def projected(self) -> tuple[str, ...]:
        """What the CDR projector consumes."""
        return (self.calls, self.metrics)

    def specs(self, partitions: int, retention_ms: int) -> list[topics.TopicSpec]:
        keep = {"retention.ms": str(retention_ms)}
        month = {"retention.ms": str(30 * 24 * 3600 * 1000)}
        return [
            topics.TopicSpec(self.calls, partitions, keep),
            topics.TopicSpec(self.metrics, 1, keep),
            topics.TopicSpec(self.config, 1, {"cleanup.policy": "compact", "min.compaction.lag.ms": "0"}),
            topics.TopicSpec(self.webhook_deadletter, 1, month),
            topics.TopicSpec(topics.DEADLETTER, 1, month),
        ]
