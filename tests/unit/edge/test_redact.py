"""SDES keys never reach the log: no key from a real SRTP offer or answer survives the scrubber, in SDP
text or in the raw INVITE bytes; everything else is left as it was."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.media.srtp import SUITES, CryptoAttribute
from edge.redact import RAW_INVITE_BOUND, REDACTED, scrub_credentials, scrub_raw, scrub_sdp
from edge.sdp import SessionDescription
from tests.support.uas_harness import OFFER

SIPP_SRTP = Path(__file__).parents[2] / "fixtures" / "sipp" / "uac_srtp.xml"


def srtp_offer(*cryptos: str, eol: str = "\r\n") -> str:
    """The offer of tests/fixtures/sipp/uac_srtp.xml, as sipp sends it."""
    lines = [
        "v=0",
        "o=user1 53655765 2353687637 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        "m=audio 6000 RTP/SAVP 0 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=sendrecv",
        *(f"a=crypto:{c}" for c in cryptos),
    ]
    return eol.join(lines) + eol


def secrets_of(attr: CryptoAttribute) -> list[str]:
    """The key as it appears in SDP (base64 key||salt), and its halves: none may survive."""
    b64 = base64.b64encode(attr.key_salt).decode()
    return [b64, b64[:16], b64[-16:]]


def test_the_sipp_fixture_still_carries_its_key_in_an_a_crypto_line():
    assert "a=crypto:[crypto]" in SIPP_SRTP.read_text()  # the shape srtp_offer() reproduces


@pytest.mark.parametrize("suite", sorted(SUITES))
def test_no_key_of_a_real_srtp_offer_survives(suite: str):
    caller = CryptoAttribute.generate(1, SUITES[suite])
    second = CryptoAttribute.generate(2, SUITES[suite])
    sdp = srtp_offer(str(caller), str(second))
    out = scrub_sdp(sdp)
    for secret in secrets_of(caller) + secrets_of(second):
        assert secret not in out
    assert f"a=crypto:1 {suite} inline:{REDACTED}\r\n" in out  # tag and suite kept for the reader
    # the rest of the SDP is untouched and still parses
    assert out.replace(f"inline:{REDACTED}", "inline:X") == sdp.replace(
        caller.key_params, "inline:X"
    ).replace(second.key_params, "inline:X")
    media = SessionDescription.parse(out.encode()).media[0]
    assert [c.suite for c in media.cryptos] == [suite, suite]


def test_our_own_answer_key_is_scrubbed_too():
    ours = CryptoAttribute.generate(1)
    answer = srtp_offer(str(ours)).replace("o=user1", "o=-")
    assert all(s not in scrub_sdp(answer) for s in secrets_of(ours))


def test_lifetime_mki_several_key_params_and_fec_key():
    line = (
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32;"
        "inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk|2^20|2:32 FEC_KEY=inline:ZmVjZmVjZmVj|2^20 KDR=1"
    )
    out = scrub_sdp(line + "\r\n")
    assert out == (
        f"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{REDACTED}|2^20|1:32;inline:{REDACTED}|2^20|2:32 "
        f"FEC_KEY=inline:{REDACTED}|2^20 KDR=1\r\n"
    )


@pytest.mark.parametrize(
    "line",
    [
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:|SECRETSECRET",  # key hidden where the lifetime goes
        "a=crypto:SECRETSECRET",  # not shaped like SDES at all
        "a=crypto:1 SECRETSECRET",
        "a=crypto:1 aes_cm_128 inline:SECRETSECRET",  # a suite that is no SDES suite name
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 srtpkey:SECRETSECRET",  # another key method
        "A=CRYPTO:1 AES_CM_128_HMAC_SHA1_80 inline:SECRETSECRET",  # case
        "  a = crypto : 1\tAES_CM_128_HMAC_SHA1_80\tinline:SECRETSECRET",  # odd spacing
        "a=key-mgmt:mikey SECRETSECRET",
        "k=clear:SECRETSECRET",
        "k=base64:SECRETSECRET",
        "k=SECRETSECRET",
    ],
)
def test_malformed_or_other_key_lines_are_redacted_whole(line: str):
    for eol in ("\r\n", "\n", "\r"):
        out = scrub_sdp(f"v=0{eol}{line}{eol}s=-{eol}")
        assert "SECRET" not in out, (eol, out)
        assert out.startswith("v=0") and out.endswith(f"s=-{eol}")


def test_sdp_without_keys_is_returned_as_is():
    text = OFFER.decode()
    assert scrub_sdp(text) is text
    assert scrub_sdp("k=prompt\r\n") == "k=prompt\r\n"


KEY_CHARS = st.text(
    st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), min_size=12
)


@given(
    key=KEY_CHARS,
    prefix=st.sampled_from(["a=crypto:", "A=Crypto:", "a=crypto: ", " a=crypto:"]),
    suite=st.sampled_from([*SUITES, "F8_128_HMAC_SHA1_80", "weird-suite"]),
    sep=st.sampled_from([" ", "  ", "\t"]),
    tail=st.sampled_from(["", "|2^20", "|2^31|1:4", "|1:32", "|junk"]),
    eol=st.sampled_from(["\r\n", "\n", "\r"]),
    before=st.sampled_from(["", "v=0", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-", "v=0\ns=-\nt=0 0"]),
)
def test_no_key_survives_any_layout(key, prefix, suite, sep, tail, eol, before):
    sdp = f"{before}{eol}{prefix}1{sep}{suite}{sep}inline:{key}{tail}{eol}m=audio 1 RTP/SAVP 0{eol}"
    assert key not in scrub_sdp(sdp)
    assert key.encode() not in scrub_raw(sdp.encode())


def invite(body: bytes, pad: int = 0) -> bytes:
    head = (
        "INVITE sip:100@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n"
        "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:100@127.0.0.1>\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\n"
        f"X-Pad: {'p' * pad}\r\nContent-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def test_raw_invite_is_byte_exact_but_for_the_key_and_bounded():
    caller = CryptoAttribute.generate(1)
    data = invite(srtp_offer(str(caller)).encode() + b"s=\xff\x00\r\n")
    out = scrub_raw(data)
    assert all(s.encode() not in out for s in secrets_of(caller))
    assert out == data.replace(caller.key_params.encode(), f"inline:{REDACTED}".encode())
    assert scrub_raw(b"x" * 100_000) == b"x" * RAW_INVITE_BOUND


def test_a_key_across_the_cut_does_not_leak_a_prefix():
    caller = CryptoAttribute.generate(1)
    sdp = srtp_offer(str(caller)).encode()
    start = sdp.index(b"inline:") + len(b"inline:")
    body_offset = len(invite(sdp)) - len(sdp)
    pad = RAW_INVITE_BOUND - (body_offset + start) - 10  # the cut falls 10 characters into the key
    data = invite(sdp, pad=pad)
    assert data.index(caller.key_params.encode()) + len("inline:") + 10 == RAW_INVITE_BOUND
    out = scrub_raw(data)
    assert len(out) == RAW_INVITE_BOUND
    assert base64.b64encode(caller.key_salt)[:6] not in out


def test_credentials_are_cut_to_their_scheme_folded_lines_and_any_case_too() -> None:
    head = (
        b"INVITE sip:1000@x SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        b'Authorization: Digest username="alice", realm="r", nonce="n",\r\n response="0123abcd"\r\n'
        b"proxy-authorization:Digest,response=feed\r\n"
        b"PROXY-AUTHORIZATION :  Bearer tok3n\r\n"
        b'WWW-Authenticate: Digest realm="r", nonce="n"\r\nContent-Length: 0\r\n\r\n'
    )
    out = scrub_raw(head)
    assert b"Authorization: Digest [redacted]\r\nproxy-authorization: [redacted]\r\n" in out
    assert b"PROXY-AUTHORIZATION :  Bearer [redacted]\r\n" in out
    assert b"0123abcd" not in out and b"feed" not in out and b"tok3n" not in out
    assert b'WWW-Authenticate: Digest realm="r", nonce="n"' in out  # a challenge is no secret
    assert scrub_credentials("OPTIONS sip:x SIP/2.0\r\n\r\n") == "OPTIONS sip:x SIP/2.0\r\n\r\n"
    assert scrub_raw(head[:100]).endswith(b"Authorization: Digest [redacted]")  # a cut line: the rest goes
