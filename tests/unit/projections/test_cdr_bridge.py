"""The CDR of a bridged transfer, folded from the facts the edge's core really records: the caller's
row names the transfer, its outcome and the edge's own call to the target, which has its own row."""

from tests.support.uas_harness import Phone, make_edge
from tests.unit.edge.uas.test_bridge import answer, human_reply, refused
from tests.unit.projections.test_cdr_outbound import fold


def test_the_callers_row_links_the_leg_and_both_rows_end() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite, _ = refused(edge, phone)
    answer(edge, invite, 3.0)
    phone.send(phone.request("BYE"), 9.0)
    calls = fold(edge.facts()).calls
    row = calls[call_id]
    assert (row.transfer_status, row.transfer_target) == ("bridged", "sip:human@192.0.2.50:5070")
    assert row.transfer_leg_call_id is not None and row.hangup_by == "caller"
    leg = calls[row.transfer_leg_call_id]
    assert (leg.direction, leg.disposition, leg.hangup_by) == ("outbound", "answered", "caller")


def test_a_busy_target_leaves_a_failed_transfer_and_a_busy_leg() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id, invite, _ = refused(edge, phone)
    human_reply(edge, invite, 486, 2.0)
    calls = fold(edge.facts()).calls
    row = calls[call_id]
    assert row.transfer_status == "failed" and row.transfer_leg_call_id is not None
    assert calls[row.transfer_leg_call_id].disposition == "busy"


def test_the_legs_row_points_back_to_the_caller_and_the_target_hanging_up_is_the_callee() -> None:
    from edge.sip.builders import make_request
    from tests.unit.edge.uas.test_bridge import HUMAN, TARGET

    edge = make_edge()
    phone = Phone(edge)
    call_id, invite, _ = refused(edge, phone)
    answer(edge, invite, 3.0)
    leg_id = fold(edge.facts()).calls[call_id].transfer_leg_call_id
    assert leg_id is not None
    dialog = edge.core.calls[leg_id].dialog
    assert dialog is not None
    bye = make_request(
        "BYE", "sip:192.0.2.1:5060", via="SIP/2.0/UDP 192.0.2.50:5070;branch=z9hG4bKbye9",
        from_=f"<{TARGET}>;tag=human", to=f"<{dialog.local_uri}>;tag={dialog.local_tag}",
        call_id=invite.call_id, cseq=1,
    )  # fmt: skip
    edge.core.receive(bytes(bye), HUMAN, 9.0)
    calls = fold(edge.facts()).calls
    leg, row = calls[leg_id], calls[call_id]
    assert leg.parent_call_id == call_id and row.parent_call_id is None
    assert (leg.hangup_by, leg.end_reason) == ("callee", "callee_bye")
    assert (row.hangup_by, row.end_reason) == ("callee", "transferred")
