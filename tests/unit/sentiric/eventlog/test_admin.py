"""Topics with three or more replicas require a majority of them in sync for an acks=all write."""

from __future__ import annotations

from sentiric.eventlog import topics
from sentiric.eventlog.admin import min_insync_config, topic_specs
from sentiric.eventlog.topics import TopicSpec
from sentiric.settings import Settings


def test_a_majority_of_three_or_more_replicas_must_acknowledge() -> None:
    assert min_insync_config(1) == {} and min_insync_config(2) == {}  # the broker's default (1)
    assert min_insync_config(3) == {"min.insync.replicas": "2"}
    assert min_insync_config(5) == {"min.insync.replicas": "3"}


def test_every_process_declares_the_same_platform_topics_plus_its_own() -> None:
    settings = Settings(topic_partitions=6, calls_retention_ms=3_600_000, node_id="edge-7")
    edge = {s.name: s for s in topic_specs(settings)}
    assert edge[topics.CALLS].partitions == 6 and edge[topics.commands_topic("edge-7")].partitions == 6
    assert edge[topics.CONFIG].config["cleanup.policy"] == "compact"
    assert edge[topics.CALLS].config["retention.ms"] == "3600000"
    up = [s.name for s in topic_specs(settings, node_ids=("edge-1", "edge-2"))]
    assert [n for n in up if n.startswith(topics.COMMANDS_PREFIX)] == [
        "sentiric.commands.edge-1",
        "sentiric.commands.edge-2",
    ]
    # The worker: no command topic (those belong to edges), its changelog added; a topic the platform
    # declares keeps the platform's declaration.
    own = [TopicSpec("worker-changelog", 6, {"cleanup.policy": "compact"}), TopicSpec(topics.CALLS, 1)]
    worker = topic_specs(settings, node_ids=(), extra=own)
    names = [s.name for s in worker]
    assert not [n for n in names if n.startswith(topics.COMMANDS_PREFIX)]
    assert names.count(topics.CALLS) == 1 and names[-1] == "worker-changelog"
    assert {s.name: s for s in worker}[topics.CALLS].partitions == 6
