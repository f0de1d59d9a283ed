"""Topics with three or more replicas require a majority of them in sync for an acks=all write."""

from __future__ import annotations

from sentiric.eventlog.admin import min_insync_config


def test_a_majority_of_three_or_more_replicas_must_acknowledge() -> None:
    assert min_insync_config(1) == {} and min_insync_config(2) == {}  # the broker's default (1)
    assert min_insync_config(3) == {"min.insync.replicas": "2"}
    assert min_insync_config(5) == {"min.insync.replicas": "3"}
