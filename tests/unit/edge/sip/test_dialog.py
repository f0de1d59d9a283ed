"""UAS dialogs: creation from INVITE, in-dialog requests, CSeq checks, table lookups."""

from pathlib import Path

from edge.sip.builders import make_response
from edge.sip.dialog import Dialog, DialogTable, sipfrag_status
from edge.sip.message import SipRequest, parse_message

CAPTURED = Path(__file__).parents[3] / "fixtures" / "sip" / "captured"
CONTACT = "<sip:sentiric@203.0.113.10:5060>"


def invite(record_route: str | None = None) -> SipRequest:
    msg = parse_message((CAPTURED / "linphone_invite.sip").read_bytes())
    assert isinstance(msg, SipRequest)
    if record_route:
        msg = parse_message(bytes(msg.with_header("Record-Route", record_route)))
        assert isinstance(msg, SipRequest)
    return msg


def test_dialog_from_invite() -> None:
    d = Dialog.from_request(invite("<sip:p1.example.com;lr>, <sip:p2.example.com;lr>"), "sntr1", CONTACT)
    assert d.id == ("qPGPUSu3o4", "sntr1", "Y8pYI3Kst")
    assert d.remote_target == "sip:alice@192.168.1.34;transport=udp"
    assert d.route_set == ("<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>")
    assert d.remote_seq == 20 and d.local_seq is None


def test_bye_inside_dialog() -> None:
    d = Dialog.from_request(invite("<sip:p1.example.com;lr>"), "sntr1", CONTACT)
    bye = parse_message(bytes(d.bye(via_host="203.0.113.10", via_port=5060)))
    assert isinstance(bye, SipRequest)
    assert bye.method == "BYE" and bye.uri == "sip:alice@192.168.1.34;transport=udp"
    assert bye.from_addr.tag == "sntr1" and bye.to_addr.tag == "Y8pYI3Kst"
    assert bye.cseq.seq == 1 and bye.call_id == "qPGPUSu3o4"
    assert [str(r.uri) for r in bye.routes] == ["sip:p1.example.com;lr"]
    assert bye.top_via.branch.startswith("z9hG4bK")
    refer = d.refer("sip:2002@example.com", via_host="203.0.113.10", via_port=5060)
    assert refer.cseq.seq == 2 and refer.header("Refer-To") == "<sip:2002@example.com>"


def test_strict_route_fallback() -> None:
    d = Dialog.from_request(invite("<sip:strict.example.com>"), "sntr1", CONTACT)
    bye = d.bye(via_host="h", via_port=5060)
    assert bye.uri == "sip:strict.example.com"
    assert bye.header_values("Route") == ["<sip:alice@192.168.1.34;transport=udp>"]


def test_cseq_check_and_target_refresh() -> None:
    inv = invite()
    d = Dialog.from_request(inv, "sntr1", CONTACT)
    reinvite = parse_message((CAPTURED / "linphone_reinvite_hold.sip").read_bytes())
    assert isinstance(reinvite, SipRequest)
    assert d.check_request(reinvite) is None and d.remote_seq == 21
    assert d.check_request(reinvite) == 500  # same/lower CSeq
    ack = parse_message(
        bytes(reinvite).replace(b"CSeq: 21 INVITE", b"CSeq: 21 ACK").replace(b"INVITE sip:", b"ACK sip:")
    )
    assert isinstance(ack, SipRequest) and d.check_request(ack) is None


def test_dialog_table_lookup() -> None:
    inv = invite()
    table = DialogTable()
    d = Dialog.from_request(inv, "sntr-7d2f9a", CONTACT)
    table.add(d)
    reinvite = parse_message((CAPTURED / "linphone_reinvite_hold.sip").read_bytes())
    assert isinstance(reinvite, SipRequest)
    assert table.match(reinvite) is d
    assert table.match(inv) is None  # no To tag: not in a dialog
    other = parse_message(bytes(reinvite).replace(b"tag=sntr-7d2f9a", b"tag=unknown"))
    assert isinstance(other, SipRequest) and table.match(other) is None  # → 481
    assert table.remove(d.id) is d and len(table) == 0


def test_response_carries_record_route_and_tag() -> None:
    inv = invite("<sip:p1.example.com;lr>")
    ok = make_response(inv, 200, to_tag="sntr1", headers=[("Contact", CONTACT)])
    again = parse_message(bytes(ok))
    assert again.to_addr.tag == "sntr1" and again.header("Record-Route") == "<sip:p1.example.com;lr>"
    trying = make_response(inv, 100, to_tag="sntr1")
    assert trying.to_addr.tag is None  # never on 100 (§8.2.6.1)


def test_sipfrag_status() -> None:
    notify = parse_message((CAPTURED / "asterisk_notify_sipfrag.sip").read_bytes())
    assert sipfrag_status(notify.body) == 200
    assert sipfrag_status(b"garbage") is None
