"""The CDR of outbound calls, folded from the facts the edge's core really records for them."""

from projections.cdr import LogPosition, Projection
from tests.support.uas_harness import make_edge, requests
from tests.unit.edge.uas.test_outbound import ANSWER_SDP, CALLEE, originate, reply, start


def fold(facts: list[object]) -> Projection:
    p = Projection()
    for i, fact in enumerate(facts):
        p.apply(fact, LogPosition("calls", 0, i))
    return p


def test_outbound_dispositions_and_direction_in_the_cdr() -> None:
    cases = {486: "busy", 404: "failed"}
    for status, disposition in cases.items():
        edge = make_edge()
        cmd = originate()
        reply(edge, start(edge, cmd), status, 0.2)
        row = fold(edge.facts(cmd.call_id)).calls[cmd.call_id]
        assert (row.direction, row.disposition) == ("outbound", disposition)


def test_no_answer_with_early_media() -> None:
    edge = make_edge()
    cmd = originate(ring_timeout_s=3)
    invite = start(edge, cmd)
    reply(edge, invite, 183, 0.1, body=ANSWER_SDP, content_type="application/sdp")
    assert [r.method for r in requests(edge.run_timers(3.0))] == ["CANCEL"]
    reply(edge, invite, 487, 3.1)
    row = fold(edge.facts(cmd.call_id)).calls[cmd.call_id]
    assert (row.direction, row.disposition, row.early_media) == ("outbound", "no-answer", True)
    assert CALLEE.addr[0] in (row.remote_addr or "")


def test_answered_outbound_call() -> None:
    edge = make_edge()
    cmd = originate()
    invite = start(edge, cmd)
    reply(edge, invite, 200, 0.5, headers=[("Contact", "<sip:1000@192.0.2.20:5080>")], body=ANSWER_SDP,
          content_type="application/sdp")  # fmt: skip
    edge.core.hangup(cmd.call_id, "done", 3.0)
    row = fold(edge.facts(cmd.call_id)).calls[cmd.call_id]
    assert (row.direction, row.disposition, row.hangup_by) == ("outbound", "answered", "agent")
