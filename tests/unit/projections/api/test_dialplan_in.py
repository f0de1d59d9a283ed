"""The admin API's dialplan body: recording policy, ring time and business hours are checked before a
record is written (a malformed value is a 422 naming it)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from projections.api.admin import DialplanIn


def test_a_plan_with_hours_recording_and_ring_time() -> None:
    plan = DialplanIn(
        pattern="1*", action="agent", hours="Mon-Fri 09:00-17:00", timezone="Europe/Istanbul",
        out_of_hours="night", ring_ms=2000, record=True, record_format="mp3", record_retention_days=30,
    )  # fmt: skip
    assert plan.model_dump()["hours"] == "Mon-Fri 09:00-17:00"
    assert DialplanIn(pattern="1", action="agent").record is False


@pytest.mark.parametrize(
    "bad",
    [
        {"hours": "weekdays 9-5"},
        {"timezone": "Mars/Olympus"},
        {"record_format": "ogg"},
        {"record_retention_days": -1},
        {"ring_ms": 10**6},
    ],
)
def test_malformed_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DialplanIn(pattern="1", action="agent", **bad)


def test_transfer_mode_and_ring_time_are_part_of_the_form() -> None:
    plan = DialplanIn(pattern="1", action="agent", transfer_mode="attended", transfer_ring_s=15)
    assert (plan.transfer_mode, plan.transfer_ring_s) == ("attended", 15)
    defaults = DialplanIn(pattern="1", action="agent")
    assert (defaults.transfer_mode, defaults.transfer_ring_s) == ("refer", None)
    schema = DialplanIn.model_json_schema()["properties"]  # the console's form is built from it
    assert schema["transfer_mode"]["enum"] == ["refer", "bridge", "attended"]
    assert "transfer_ring_s" in schema
    for bad in ({"transfer_mode": "teleport"}, {"transfer_ring_s": -1}, {"transfer_ring_s": 41}):
        with pytest.raises(ValidationError):
            DialplanIn(pattern="1", action="agent", **bad)
