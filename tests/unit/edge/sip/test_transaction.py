"""Transaction timers: exact retransmission schedules, absorption, termination."""

import pytest

from edge.sip.builders import make_request, make_response
from edge.sip.message import SipRequest, parse_message
from edge.sip.transaction import (
    AckTimeout,
    InviteOkRetransmitter,
    InviteServerTransaction,
    NonInviteServerTransaction,
    Refused,
    ResponseReceived,
    Send,
    SipTransactionError,
    State,
    Terminated,
    TimedOut,
    TimerConfig,
    TransactionLayer,
    server_key,
)

T = TimerConfig()  # T1=0.5, T2=4, T4=5
PEER = ("192.0.2.1", 5060)


def request(method: str = "INVITE", branch: str = "z9hG4bKabc", cseq: int = 1) -> SipRequest:
    return make_request(
        method,
        "sip:svc@192.0.2.9",
        via=f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch}",
        from_="<sip:a@x>;tag=f1",
        to="<sip:svc@192.0.2.9>",
        call_id="c1",
        cseq=cseq,
    )


def ack_for(invite: SipRequest, branch: str = "z9hG4bKabc") -> SipRequest:
    return make_request(
        "ACK",
        invite.uri,
        via=f"SIP/2.0/UDP 192.0.2.1:5060;branch={branch}",
        from_="<sip:a@x>;tag=f1",
        to="<sip:svc@192.0.2.9>;tag=t1",
        call_id="c1",
        cseq=1,
    )


def run_until(machine, end: float) -> list[tuple[float, object]]:
    """Drive on_timer exactly at each deadline; return (time, action) pairs."""
    out = []
    while (d := machine.next_deadline) is not None and d <= end:
        out.extend((d, a) for a in machine.on_timer(d))
    return out


def test_invite_server_timer_g_schedule_and_h() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, T)
    assert txn.state is State.PROCEEDING
    assert [type(a) for a in txn.respond(make_response(inv, 100), 0.0)] == [Send]
    sent = txn.respond(make_response(inv, 486, to_tag="t1"), 0.0)
    assert isinstance(sent[0], Send) and txn.state is State.COMPLETED
    events = run_until(txn, 100.0)
    resend_times = [t for t, a in events if isinstance(a, Send)]
    assert resend_times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]  # T1 doubling, cap T2
    assert [(t, type(a)) for t, a in events if not isinstance(a, Send)] == [
        (32.0, TimedOut),
        (32.0, Terminated),
    ]
    assert txn.state is State.TERMINATED and txn.next_deadline is None


def test_invite_server_ack_absorption_and_timer_i() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, T)
    final = make_response(inv, 404, to_tag="t1")
    txn.respond(final, 0.0)
    assert txn.receive_request(ack_for(inv), 1.0) == []
    assert txn.state is State.CONFIRMED
    assert txn.receive_request(ack_for(inv), 2.0) == []  # retransmitted ACK absorbed
    assert txn.next_deadline == 6.0  # Timer I = T4
    assert run_until(txn, 10.0) == [(6.0, Terminated(txn.key))]


def test_invite_server_request_retransmission_resends_last_response() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, T)
    ringing = make_response(inv, 180, to_tag="t1")
    txn.respond(ringing, 0.0)
    assert txn.receive_request(inv, 0.2) == [Send(bytes(ringing), PEER)]


def test_invite_server_2xx_terminates_and_illegal_events_raise() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, T)
    actions = txn.respond(make_response(inv, 200, to_tag="t1"), 0.0)
    assert isinstance(actions[0], Send) and actions[-1] == Terminated(txn.key)
    with pytest.raises(SipTransactionError, match="not allowed in Terminated"):
        txn.respond(make_response(inv, 200, to_tag="t1"), 0.1)


def test_reliable_transport_has_no_timer_g() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, T, reliable=True)
    txn.respond(make_response(inv, 500), 0.0)
    assert txn.next_deadline == 32.0  # only H


def test_non_invite_server_timer_j_and_absorption() -> None:
    bye = request("BYE", cseq=2)
    txn = NonInviteServerTransaction(server_key(bye), PEER, T)
    assert txn.receive_request(bye, 0.1) == []  # Trying: absorbed, TU has not answered
    ok = make_response(bye, 200)
    txn.respond(ok, 0.2)
    assert txn.state is State.COMPLETED
    assert txn.receive_request(bye, 1.0) == [Send(bytes(ok), PEER)]
    assert txn.next_deadline == pytest.approx(32.2)
    assert run_until(txn, 40.0) == [(pytest.approx(32.2), Terminated(txn.key))]


def test_non_invite_client_timer_e_schedule_and_f() -> None:
    layer = TransactionLayer(T)
    bye = request("BYE", branch="z9hG4bKbye1", cseq=2)
    assert layer.send_request(bye, PEER, 0.0) == [Send(bytes(bye), PEER)]
    events = run_until(layer, 100.0)
    resend_times = [t for t, a in events if isinstance(a, Send)]
    assert resend_times == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert [type(a) for t, a in events if t == 32.0] == [TimedOut, Terminated]
    assert layer.client == {}


def test_non_invite_client_proceeding_uses_t2_and_completes() -> None:
    layer = TransactionLayer(T)
    bye = request("BYE", branch="z9hG4bKbye2", cseq=2)
    layer.send_request(bye, PEER, 0.0)
    layer.on_timer(0.5)  # first retransmission; next at 1.5
    trying = parse_message(bytes(make_response(bye, 100)))
    assert isinstance(layer.receive_response(trying, 0.6)[0], ResponseReceived)
    events = run_until(layer, 10.0)
    assert [t for t, a in events if isinstance(a, Send)] == [1.5, 5.5, 9.5]  # T2 once Proceeding
    ok = parse_message(bytes(make_response(bye, 200)))
    assert isinstance(layer.receive_response(ok, 10.0)[0], ResponseReceived)
    assert layer.receive_response(ok, 10.1) == []  # retransmitted 200 absorbed
    assert run_until(layer, 20.0)[-1][1] == Terminated(("z9hG4bKbye2", "BYE"))  # Timer K = T4


def test_layer_matches_retransmissions_and_acks() -> None:
    layer = TransactionLayer(T)
    inv = request()
    tu, actions = layer.receive_request(inv, PEER, 0.0)
    assert tu is inv and actions == []
    layer.respond(inv, make_response(inv, 100), 0.0)
    tu, actions = layer.receive_request(parse_message(bytes(inv)), PEER, 0.3)
    assert tu is None and len(actions) == 1  # retransmission absorbed, 100 resent
    layer.respond(inv, make_response(inv, 603, to_tag="t1"), 0.4)
    tu, actions = layer.receive_request(ack_for(inv), PEER, 0.5)
    assert tu is None and actions == []  # ACK for a non-2xx absorbed by the transaction
    other = request(branch="z9hG4bKother")
    tu, _ = layer.receive_request(other, PEER, 0.6)
    assert tu is other  # different branch: new transaction


def test_ack_for_2xx_goes_to_the_tu_and_cancel_finds_its_invite() -> None:
    layer = TransactionLayer(T)
    inv = request()
    layer.receive_request(inv, PEER, 0.0)
    cancel = make_request(
        "CANCEL",
        inv.uri,
        via="SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc",
        from_="<sip:a@x>;tag=f1",
        to="<sip:svc@192.0.2.9>",
        call_id="c1",
        cseq=1,
    )
    assert layer.invite_for_cancel(cancel) is layer.transaction_for(inv)
    layer.respond(inv, make_response(inv, 200, to_tag="t1"), 0.1)
    tu, actions = layer.receive_request(ack_for(inv, branch="z9hG4bKack2xx"), PEER, 0.2)
    assert tu is not None and tu.method == "ACK" and actions == []


def test_rfc2543_fallback_key_matches_ack() -> None:
    inv = make_request(
        "INVITE",
        "sip:svc@x",
        via="SIP/2.0/UDP 192.0.2.1:5060",
        from_="<sip:a@x>;tag=f1",
        to="<sip:svc@x>",
        call_id="old",
        cseq=7,
    )
    ack = make_request(
        "ACK",
        "sip:svc@x",
        via="SIP/2.0/UDP 192.0.2.1:5060",
        from_="<sip:a@x>;tag=f1",
        to="<sip:svc@x>;tag=t9",
        call_id="old",
        cseq=7,
    )
    assert server_key(inv)[0] == "2543" and server_key(inv) == server_key(ack)


def test_2xx_retransmitted_until_ack() -> None:
    inv = request()
    ok = make_response(inv, 200, to_tag="t1")
    rt = InviteOkRetransmitter(ok, PEER, 0.0, T)
    events = run_until(rt, 4.0)
    assert [t for t, _ in events] == [0.5, 1.5, 3.5]
    rt.ack_received()
    assert rt.next_deadline is None and rt.on_timer(100.0) == []


def test_2xx_retransmission_gives_up_with_bye_signal() -> None:
    inv = request()
    rt = InviteOkRetransmitter(make_response(inv, 200, to_tag="t1"), PEER, 0.0, T)
    events = run_until(rt, 100.0)
    assert [t for t, a in events if isinstance(a, Send)] == [
        0.5,
        1.5,
        3.5,
        7.5,
        11.5,
        15.5,
        19.5,
        23.5,
        27.5,
        31.5,
    ]
    assert events[-1] == (32.0, AckTimeout("c1"))


def test_timers_are_configurable() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, TimerConfig(t1=0.1, t2=0.3, t4=1.0))
    txn.respond(make_response(inv, 480, to_tag="t"), 0.0)
    times = [round(t, 6) for t, a in run_until(txn, 10.0) if isinstance(a, Send)]
    assert times == [
        0.1,
        0.3,
        0.6,
        0.9,
        1.2,
        1.5,
        1.8,
        2.1,
        2.4,
        2.7,
        3.0,
        3.3,
        3.6,
        3.9,
        4.2,
        4.5,
        4.8,
        5.1,
        5.4,
        5.7,
        6.0,
        6.3,
    ]


def test_quiet_invite_transaction_resends_only_on_request() -> None:
    inv = request()
    txn = InviteServerTransaction(server_key(inv), PEER, T)
    txn.quiet = True  # an unproven source: no timer G
    final = make_response(inv, 401, to_tag="t1")
    txn.respond(final, 0.0)
    events = run_until(txn, 100.0)
    assert [(t, type(a)) for t, a in events] == [(32.0, TimedOut), (32.0, Terminated)]  # H only
    txn2 = InviteServerTransaction(server_key(inv), PEER, T)
    txn2.quiet = True
    txn2.respond(final, 0.0)
    assert txn2.receive_request(inv, 0.6) == [Send(bytes(final), PEER)]  # one for one


def test_a_request_from_another_peer_never_gets_the_stored_response() -> None:
    layer = TransactionLayer(T)
    inv = request()
    layer.receive_request(inv, PEER, 0.0)
    layer.respond(inv, make_response(inv, 486, to_tag="t1"), 0.1)
    elsewhere = ("203.0.113.9", 5060)
    tu, actions = layer.receive_request(parse_message(bytes(inv)), elsewhere, 0.2)
    assert tu is None and actions == [Refused(server_key(inv))]
    tu, actions = layer.receive_request(ack_for(inv), elsewhere, 0.3)
    assert tu is None and actions == [Refused(server_key(inv))]
    assert layer.transaction_for(inv).state is State.COMPLETED  # the spoofed ACK confirmed nothing
    tu, actions = layer.receive_request(parse_message(bytes(inv)), PEER, 0.4)
    assert tu is None and [type(a) for a in actions] == [Send]
    options = request("OPTIONS", branch="z9hG4bKopt")
    layer.receive_request(options, PEER, 0.0)
    layer.respond(options, make_response(options, 200), 0.0)
    assert layer.receive_request(options, elsewhere, 0.1) == (None, [Refused(server_key(options))])


@pytest.mark.parametrize(("limit", "copies"), [(0, []), (1, [0.5]), (2, [0.5, 1.5])])
def test_2xx_retransmission_limit_then_silent_until_the_ack_timeout(limit: int, copies: list[float]) -> None:
    rt = InviteOkRetransmitter(make_response(request(), 200, to_tag="t1"), PEER, 0.0, T, limit=limit)
    events = run_until(rt, 100.0)
    assert [t for t, a in events if isinstance(a, Send)] == copies
    assert events[-1] == (32.0, AckTimeout("c1"))


def test_layer_timers_run_every_due_transaction_and_let_terminated_ones_go() -> None:
    layer = TransactionLayer(T)
    inv = request()
    layer.receive_request(inv, PEER, 0.0)
    layer.respond(inv, make_response(inv, 486, to_tag="t1"), 0.0)  # G at 0.5, H at 32
    opt = request("OPTIONS", branch="z9hG4bKopt")
    layer.receive_request(opt, PEER, 0.1)
    layer.respond(opt, make_response(opt, 200), 0.1)  # J at 32.1
    bye = request("BYE", branch="z9hG4bKbye", cseq=2)
    layer.send_request(bye, PEER, 0.2)  # E at 0.7, F at 32.2
    assert layer.next_deadline == 0.5 and len(layer) == 3
    assert layer.on_timer(0.4) == []  # nothing due yet
    assert [type(a) for a in layer.on_timer(0.7)] == [Send, Send]  # G and E, each once
    assert layer.next_deadline == 1.5  # G again (T1 doubled)
    events = run_until(layer, 40.0)
    assert [(t, type(a)) for t, a in events if not isinstance(a, Send)] == [
        (32.0, TimedOut),
        (32.0, Terminated),
        (pytest.approx(32.1), Terminated),
        (pytest.approx(32.2), TimedOut),
        (pytest.approx(32.2), Terminated),
    ]
    assert len(layer) == 0 and layer.server == {} and layer.client == {}
    assert layer.next_deadline is None


def test_layer_forgets_a_server_transaction_and_its_timers() -> None:
    layer = TransactionLayer(T)
    inv = request()
    layer.receive_request(inv, PEER, 0.0)
    layer.respond(inv, make_response(inv, 486, to_tag="t1"), 0.0)
    layer.forget(inv)
    assert layer.transaction_for(inv) is None and len(layer) == 0
    assert layer.next_deadline is None and layer.on_timer(100.0) == []


def test_layer_tracks_a_deadline_a_retransmission_moves() -> None:
    layer = TransactionLayer(T, reliable=True)
    inv = request()
    layer.receive_request(inv, PEER, 0.0)
    layer.respond(inv, make_response(inv, 486, to_tag="t1"), 0.0)
    assert layer.next_deadline == 32.0  # H only over a reliable transport
    tu, actions = layer.receive_request(ack_for(inv), PEER, 1.0)  # I = 0 over TCP: ends at once
    assert tu is None and [type(a) for a in actions] == [Terminated]
    assert layer.server == {} and layer.next_deadline is None
