"""Moved to `sentiric.eventlog.changelog_fetch`: user stream processors (`sentiric.processors`) need it
too, and `sentiric` must not import `streams`. Re-exported here for the worker and its tests."""

from sentiric.eventlog.changelog_fetch import stop_fetching_changelogs

__all__ = ["stop_fetching_changelogs"]
