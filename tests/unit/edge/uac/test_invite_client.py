"""INVITE client transaction: timer A/B/D schedules, ACK for non-2xx, absorption (over bytes)."""

from edge.sip.builders import make_response
from edge.sip.message import SipRequest
from edge.sip.transaction import ResponseReceived, Send, State, Terminated, TimedOut, TimerConfig
from edge.uac.invite_client import TIMER_D_UNRELIABLE, InviteClientTransaction
from edge.uac.requests import make_invite

PEER = ("127.0.0.1", 5080)


def invite() -> SipRequest:
    return make_invite(
        target="sip:1000@127.0.0.1:5080", from_uri="sip:sentiric@127.0.0.1", from_tag="ft",
        call_id="c1", via_host="127.0.0.1", via_port=5060, contact="sip:edge@127.0.0.1:5060", sdp=b"v=0\r\n",
    )  # fmt: skip


def test_timer_a_doubles_without_cap_then_b_times_out() -> None:
    txn = InviteClientTransaction(invite(), PEER, TimerConfig())
    sent = txn.start(0.0)
    assert [type(a) for a in sent] == [Send]
    times = []
    now = 0.0
    while not txn.terminated:
        deadline = txn.next_deadline
        assert deadline is not None
        now = deadline
        actions = txn.on_timer(now)
        if any(isinstance(a, Send) for a in actions):
            times.append(now)
        if any(isinstance(a, TimedOut) for a in actions):
            break
    assert times == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]  # 0.5, 1, 2, 4, 8, 16: INVITE has no T2 cap
    assert now == 32.0 and txn.terminated


def test_provisional_stops_a_and_final_failure_is_acked_once_and_absorbed() -> None:
    inv = invite()
    txn = InviteClientTransaction(inv, PEER)
    txn.start(0.0)
    ringing = make_response(inv, 180, to_tag="tt")
    assert txn.receive_response(ringing, 0.1) == [ResponseReceived(txn.key, ringing)]
    assert txn.state is State.PROCEEDING and txn.next_deadline is None  # no A, no B once it rings
    busy = make_response(inv, 486, to_tag="tt")
    out = txn.receive_response(busy, 0.2)
    assert out[1] == ResponseReceived(txn.key, busy)
    ack = SipRequest.parse(out[0].data)  # type: ignore[union-attr]
    assert ack.method == "ACK" and ack.uri == inv.uri and ack.call_id == "c1"
    assert ack.cseq.seq == 1 and ack.cseq.method == "ACK"
    assert ack.top_via.branch == inv.top_via.branch  # same transaction (§17.1.1.3)
    assert ack.to_addr.tag == "tt"
    again = txn.receive_response(busy, 0.3)
    assert again == [Send(out[0].data, PEER)]  # type: ignore[union-attr]  # ACKed again, not passed up
    assert txn.next_deadline == 0.2 + TIMER_D_UNRELIABLE
    assert txn.on_timer(0.2 + TIMER_D_UNRELIABLE) == [Terminated(txn.key)]


def test_2xx_terminates_at_once_and_is_left_to_the_tu() -> None:
    inv = invite()
    txn = InviteClientTransaction(inv, PEER)
    txn.start(0.0)
    ok = make_response(inv, 200, to_tag="tt")
    assert txn.receive_response(ok, 0.1) == [ResponseReceived(txn.key, ok), Terminated(txn.key)]


def test_reliable_transport_has_no_timer_a_and_no_wait_in_completed() -> None:
    inv = invite()
    txn = InviteClientTransaction(inv, PEER, reliable=True)
    txn.start(0.0)
    assert txn.next_deadline == 32.0  # B only
    out = txn.receive_response(make_response(inv, 503, to_tag="x"), 1.0)
    assert isinstance(out[-1], Terminated)
