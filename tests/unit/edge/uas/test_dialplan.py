"""Dialplan resolution: exact before prefix before *, priority first, default plan last."""

from edge.uas.dialplan import DEFAULT_PLAN, Plan, resolve


def test_resolution_order() -> None:
    plans = [
        Plan("all", "*", "reject", priority=100),
        Plan("istanbul", "90212*", "agent", priority=100),
        Plan("desk", "902125550000", "transfer", priority=100, target="sip:desk@pbx"),
        Plan("vip", "9*", "agent", priority=1),
    ]
    assert resolve(plans, "902125550000").dialplan_id == "vip"  # lowest priority wins
    plans.pop()
    assert resolve(plans, "902125550000").dialplan_id == "desk"  # exact beats prefix
    assert resolve(plans, "902121111111").dialplan_id == "istanbul"  # longer prefix beats *
    assert resolve(plans, "1000").dialplan_id == "all"
    assert resolve([], "1000") is DEFAULT_PLAN and DEFAULT_PLAN.action == "agent"


def test_outside_its_hours_a_plan_gives_way_to_its_out_of_hours_plan() -> None:
    from datetime import UTC, datetime

    from edge.uas.dialplan import CLOSED_PLAN, within_hours
    from sentiric.hours import parse_hours

    office = Plan("office", "1*", "agent", hours=parse_hours("Mon-Fri 09:00-17:00"), out_of_hours="night")
    night = Plan("night", "none", "prompt_hangup", prompt_uri="prompt:closed")
    friday_noon, friday_night = (datetime(2026, 12, 4, h, tzinfo=UTC) for h in (12, 22))
    assert within_hours(office, [office, night], friday_noon) is office
    assert within_hours(office, [office, night], friday_night) is night
    assert within_hours(office, [office], friday_night) is CLOSED_PLAN  # its night plan is gone
    assert within_hours(night, [office, night], friday_night) is night  # no hours: always


def test_sample_plans_until_a_dialplan_is_configured() -> None:
    turkish = resolve([], "2000")
    assert (turkish.dialplan_id, turkish.action, turkish.language) == ("sample-tr", "agent", "tr-TR")
    assert resolve([], "1000") is DEFAULT_PLAN  # the English sample business: every other number
    configured = [Plan("office", "1*", "agent")]
    assert resolve(configured, "2000") is DEFAULT_PLAN  # configured dialplans replace the samples


def test_transfer_mode_comes_from_the_config_record_and_is_checked() -> None:
    import uuid
    from datetime import UTC, datetime

    import pytest

    from schemas import models as m

    def record(**kw: object) -> m.Dialplan:
        return m.Dialplan(
            event_id=uuid.uuid4(), entity_id="p", occurred_at=datetime.now(UTC), source="t", trace_id="t",
            pattern="*", action="agent", target="sip:human@192.0.2.50", **kw,
        )  # fmt: skip

    assert Plan.from_record(record()).transfer_mode == "refer"
    assert Plan.from_record(record(transfer_mode="bridge")).transfer_mode == "bridge"
    with pytest.raises(ValueError, match="transfer_mode"):
        Plan.from_record(record(transfer_mode="teleport"))


def test_transfer_ring_time_comes_from_the_config_record_and_is_checked() -> None:
    import uuid
    from datetime import UTC, datetime

    import pytest

    from schemas import models as m

    def record(**kw: object) -> m.Dialplan:
        return m.Dialplan(
            event_id=uuid.uuid4(), entity_id="p", occurred_at=datetime.now(UTC), source="t", trace_id="t",
            pattern="*", action="agent", target="sip:human@192.0.2.50", **kw,
        )  # fmt: skip

    assert Plan.from_record(record()).transfer_ring_s is None  # the edge's SENTIRIC_TRANSFER_RING_S
    assert Plan.from_record(record(transfer_ring_s=12.5)).transfer_ring_s == 12.5
    assert Plan.from_record(record(transfer_mode="attended")).transfer_mode == "attended"
    for bad in (-1.0, 41.0):
        with pytest.raises(ValueError, match="transfer_ring_s"):
            Plan.from_record(record(transfer_ring_s=bad))
