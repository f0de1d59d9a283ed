"""The one config view: the latest record per key, tombstones delete, listeners see every change."""

from __future__ import annotations

from dataclasses import replace

from schemas import models as m
from schemas.samples import sample
from sentiric.eventlog.config_view import ConfigView


def test_config_view_keeps_the_latest_record_and_tombstones_delete():
    view = ConfigView()
    seen = []
    view.subscribe(lambda key, record: seen.append((key, record is None)))
    dp = replace(sample(m.Dialplan), entity_id="main")
    view.put(dp)
    view.put(replace(dp, pattern="^2"))
    assert view.get(m.Dialplan, "main").pattern == "^2"
    assert view.get(m.SipUser, "main") is None
    view.apply("dialplan:main", None)
    view.apply("dialplan:main", None)  # deleting twice notifies once
    assert view.all(m.Dialplan) == []
    assert seen == [("dialplan:main", False), ("dialplan:main", False), ("dialplan:main", True)]
