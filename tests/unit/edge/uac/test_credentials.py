"""Answering digest challenges: verified by the edge's own server-side authenticator."""

from edge.sip.builders import make_response
from edge.sip.digest import AuthResult, DigestAuthenticator
from edge.uac.credentials import Credentials, answer_challenge
from edge.uac.requests import make_invite

CREDS = Credentials("trunkuser", "s3cret")


def challenged(status: int, values: list[str]):  # type: ignore[no-untyped-def]
    inv = make_invite(
        target="sip:555@trunk.example", from_uri="sip:edge@127.0.0.1", from_tag="f", call_id="c",
        via_host="127.0.0.1", via_port=5060, contact="sip:edge@127.0.0.1:5060", sdp=b"",
    )  # fmt: skip
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    return make_response(inv, status, to_tag="t", headers=[(name, v) for v in values])


def test_answer_to_401_is_accepted_by_a_real_verifier_and_prefers_sha256() -> None:
    auth = DigestAuthenticator("trunk", b"k" * 32, algorithms=("MD5", "SHA-256"))
    answer = answer_challenge(challenged(401, auth.challenges(10.0)), CREDS, method="INVITE", uri="sip:555@x")
    assert answer is not None and answer.header == "Authorization"
    assert "algorithm=SHA-256" in answer.value and "qop=auth" in answer.value
    assert auth.verify(answer.value, method="INVITE", now=11.0, password="s3cret") is AuthResult.OK
    assert auth.verify(answer.value, method="INVITE", now=11.0, password="wrong") is not AuthResult.OK


def test_407_uses_proxy_authorization_and_no_qop_when_not_offered() -> None:
    answer = answer_challenge(
        challenged(407, ['Digest realm="p", nonce="abc", opaque="o1"']), CREDS, method="INVITE", uri="sip:x"
    )
    assert answer is not None and answer.header == "Proxy-Authorization"
    assert "qop" not in answer.value and 'opaque="o1"' in answer.value and not answer.stale


def test_no_usable_challenge_gives_none() -> None:
    assert answer_challenge(challenged(401, ['Basic realm="x"']), CREDS, method="INVITE", uri="sip:x") is None
    bogus = ['Digest realm="x", nonce="n", algorithm=ROT13']
    assert answer_challenge(challenged(401, bogus), CREDS, method="INVITE", uri="sip:x") is None
    assert answer_challenge(challenged(401, []), CREDS, method="INVITE", uri="sip:x") is None
