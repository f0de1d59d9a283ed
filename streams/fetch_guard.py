"""Moved to `sentiric.eventlog.fetch_guard`: user stream processors (`sentiric.processors`) need it too,
and `sentiric` must not import `streams`. Re-exported here for the worker and its tests."""

from sentiric.eventlog.fetch_guard import GuardedConsumer, GuardedConsumerThread, GuardedTransport, install

__all__ = ["GuardedConsumer", "GuardedConsumerThread", "GuardedTransport", "install"]
