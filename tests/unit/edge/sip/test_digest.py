"""Digest authentication: RFC worked examples, stateless nonces, stale, replay."""

from pathlib import Path

from edge.sip.digest import AuthResult, DigestAuthenticator, compute_ha1, compute_response
from edge.sip.headers import DigestParams
from edge.sip.message import parse_message

CAPTURED = Path(__file__).parents[3] / "fixtures" / "sip" / "captured"


def test_rfc2617_md5_example() -> None:
    ha1 = compute_ha1("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life")
    response = compute_response(
        algorithm="MD5",
        ha1=ha1,
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc7616_examples_md5_and_sha256() -> None:
    args = dict(
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    md5 = compute_ha1("MD5", "Mufasa", "http-auth@example.org", "Circle of Life")
    assert compute_response(algorithm="MD5", ha1=md5, **args) == "8ca523f5e9506fed4657c9700eebdbec"
    sha = compute_ha1("SHA-256", "Mufasa", "http-auth@example.org", "Circle of Life")
    assert compute_response(algorithm="SHA-256", ha1=sha, **args) == (
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    )


AUTH = DigestAuthenticator("sentiric.example.com", b"k" * 32, nonce_ttl=300.0)


def answer(
    challenge: str, *, password: str = "s3cret", nc: str = "00000001", method: str = "REGISTER"
) -> str:
    ch = DigestParams.parse(challenge)
    alg, nonce, realm = ch.get("algorithm") or "MD5", ch.get("nonce") or "", ch.get("realm") or ""
    uri = "sip:sentiric.example.com"
    ha1 = compute_ha1(alg, "2001", realm, password)
    resp = compute_response(
        algorithm=alg, ha1=ha1, nonce=nonce, method=method, uri=uri, qop="auth", nc=nc, cnonce="abc123"
    )
    return str(
        DigestParams(
            "Digest",
            (
                ("username", "2001"),
                ("realm", realm),
                ("nonce", nonce),
                ("uri", uri),
                ("response", resp),
                ("algorithm", alg),
                ("qop", "auth"),
                ("nc", nc),
                ("cnonce", "abc123"),
            ),
        )
    )


def test_challenges_offer_sha256_first() -> None:
    values = AUTH.challenges(1000.0)
    assert [DigestParams.parse(v).get("algorithm") for v in values] == ["SHA-256", "MD5"]
    assert 'qop="auth"' in values[0] and "stale" not in values[0]
    assert "stale=true" in AUTH.challenges(1000.0, stale=True)[0]


def test_verify_password_and_ha1_both_algorithms() -> None:
    auth = DigestAuthenticator("sentiric.example.com", b"k" * 32)
    sha, md5 = auth.challenges(10.0)
    assert auth.verify(answer(sha), method="REGISTER", now=11.0, password="s3cret") is AuthResult.OK
    ha1 = {"MD5": compute_ha1("MD5", "2001", "sentiric.example.com", "s3cret")}
    # Both challenges share one nonce, so the next answer must count on.
    assert auth.verify(answer(md5, nc="00000002"), method="REGISTER", now=11.0, ha1=ha1) is AuthResult.OK
    assert auth.verify(answer(sha, nc="00000003"), method="REGISTER", now=11.0, ha1=ha1) is AuthResult.INVALID


def test_wrong_password_forged_nonce_and_malformed() -> None:
    auth = DigestAuthenticator("sentiric.example.com", b"k" * 32)
    sha = auth.challenges(10.0)[0]
    assert auth.verify(answer(sha, password="nope"), method="REGISTER", now=11.0, password="s3cret") is (
        AuthResult.INVALID
    )
    other = DigestAuthenticator("sentiric.example.com", b"x" * 32)
    assert auth.verify(answer(other.challenges(10.0)[0]), method="REGISTER", now=11.0, password="s3cret") is (
        AuthResult.INVALID
    )
    assert auth.verify("Digest garbage", method="REGISTER", now=11.0, password="x") is AuthResult.MALFORMED
    assert auth.verify("NoOneKnowsThisScheme opaque-data=here", method="REGISTER", now=1, password="x") is (
        AuthResult.MALFORMED
    )


def test_expired_nonce_is_stale() -> None:
    auth = DigestAuthenticator("sentiric.example.com", b"k" * 32, nonce_ttl=60.0)
    sha = auth.challenges(0.0)[0]
    assert auth.verify(answer(sha), method="REGISTER", now=61.0, password="s3cret") is AuthResult.STALE


def test_nonce_count_replay_and_bounded_memory() -> None:
    auth = DigestAuthenticator("sentiric.example.com", b"k" * 32, max_tracked_nonces=2)
    sha = auth.challenges(0.0)[0]
    assert auth.verify(answer(sha), method="REGISTER", now=1.0, password="s3cret") is AuthResult.OK
    assert auth.verify(answer(sha), method="REGISTER", now=1.0, password="s3cret") is AuthResult.REPLAY
    assert (
        auth.verify(answer(sha, nc="00000002"), method="REGISTER", now=1.0, password="s3cret")
        is AuthResult.OK
    )
    for t in (2.0, 3.0):  # push the first nonce out of the LRU table
        assert auth.verify(answer(auth.challenges(t)[0]), method="REGISTER", now=t, password="s3cret") is (
            AuthResult.OK
        )
    assert auth.verify(answer(sha, nc="00000003"), method="REGISTER", now=4.0, password="s3cret") is (
        AuthResult.STALE
    )


def test_captured_zoiper_authorization_parses() -> None:
    msg = parse_message((CAPTURED / "zoiper_register_auth.sip").read_bytes())
    creds = DigestParams.parse(msg.header("Authorization") or "")
    assert creds.scheme == "Digest" and creds.get("username") == "2001" and creds.get("nc") == "00000001"
    assert creds.get("uri") == "sip:sentiric.example.com;transport=UDP" and creds.get("qop") == "auth"
    assert DigestParams.parse(str(creds)) == creds
