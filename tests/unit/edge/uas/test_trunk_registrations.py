"""The edge's REGISTER bindings with trunks, through the UAS core: started, authenticated, refreshed,
removed when the trunk stops asking for one."""

from edge.sip.builders import make_response
from edge.sip.digest import AuthResult, DigestAuthenticator
from edge.uas.access import Trunk
from edge.uas.call import Peer
from tests.support.uas_harness import make_edge, requests

REGISTRAR = Peer("udp", ("192.0.2.5", 5060))
TRUNK = Trunk(
    "carrier", "carrier", (), outbound_address="192.0.2.5:5060", outbound_username="acct",
    outbound_password="pw", outbound_register=True,
)  # fmt: skip


def test_registration_follows_the_config_and_answers_the_challenge() -> None:
    edge = make_edge()
    auth = DigestAuthenticator("carrier", b"k" * 32)
    assert edge.core.sync_registrations(0.0) == []  # no trunk asks
    edge.directory.trunks.append(TRUNK)
    (register,) = requests(edge.core.sync_registrations(1.0))
    assert register.method == "REGISTER" and register.uri == "sip:192.0.2.5:5060"
    assert str(register.from_addr.uri) == "sip:acct@192.0.2.5:5060"
    assert edge.core.sync_registrations(1.5) == []  # unchanged config: nothing new
    challenge = make_response(register, 401, headers=[("WWW-Authenticate", auth.challenges(1.0)[0])])
    (again,) = requests(edge.core.receive(bytes(challenge), REGISTRAR, 1.1))
    creds = again.header("authorization") or ""
    assert auth.verify(creds, method="REGISTER", now=1.2, password="pw") is AuthResult.OK
    ok = make_response(again, 200, headers=[("Expires", "120")])
    assert edge.core.receive(bytes(ok), REGISTRAR, 1.2) == []
    refresh = [r for r in requests(edge.run_timers(61.2)) if r.method == "REGISTER"]
    assert len(refresh) == 1 and refresh[0].call_id == register.call_id  # at half the 120 s granted
    edge.directory.trunks.clear()
    (gone,) = requests(edge.core.sync_registrations(70.0))
    assert gone.method == "REGISTER" and gone.header("expires") == "0"


def test_a_response_from_elsewhere_is_dropped() -> None:
    edge = make_edge()
    edge.directory.trunks.append(TRUNK)
    (register,) = requests(edge.core.sync_registrations(0.0))
    forged = make_response(register, 200, headers=[("Expires", "3600")])
    assert edge.core.receive(bytes(forged), Peer("udp", ("198.51.100.7", 5060)), 0.1) == []
    retransmitted = [r for r in requests(edge.run_timers(0.6)) if r.method == "REGISTER"]
    assert retransmitted  # still unanswered: timer E resends
