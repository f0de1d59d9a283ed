"""CallTable: a call found by id, by INVITE and by dialog; live and per-source counts."""

from __future__ import annotations

from edge.uas.call_table import CallTable
from tests.support.uas_harness import Phone, make_edge


def test_a_call_counts_until_ended_and_is_found_until_removed() -> None:
    edge = make_edge()
    phone = Phone(edge)
    call_id = phone.call(0.0)
    table: CallTable = edge.core.table
    call = table.calls[call_id]
    invite = phone.request("INVITE", to_tag="")
    in_dialog = phone.request("BYE")
    assert table.for_invite(invite) is call and table.for_dialog(in_dialog) is call
    assert table.live == 1 and table.per_source == {"192.0.2.10": 1}
    table.ended(call)
    assert table.live == 0 and table.per_source == {} and call.counted_ip is None
    table.release_source(call)  # idempotent
    assert table.per_source == {}
    table.remove(call)
    assert (
        table.get(call_id) is None
        and table.for_invite(invite) is None
        and table.for_dialog(in_dialog) is None
    )


def test_two_calls_from_one_source_share_its_count() -> None:
    edge = make_edge()
    Phone(edge).call(0.0)
    Phone(edge).call(0.1)
    assert edge.core.table.per_source == {"192.0.2.10": 2} and edge.core.active_calls == 2
