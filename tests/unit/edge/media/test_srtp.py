from __future__ import annotations

import pytest

from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.rtcp import ReceiverReport, ReportBlock
from edge.media.srtp import (
    AES_CM_128_HMAC_SHA1_32,
    AES_CM_128_HMAC_SHA1_80,
    CryptoAttribute,
    SrtpContext,
    SrtpError,
    SrtpSuite,
)

# RFC 4568 §4 example attribute
RFC4568_EXAMPLE = "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:4"
SUITES = [AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32]


def test_parse_rfc4568_example() -> None:
    attribute = CryptoAttribute.parse("a=crypto:" + RFC4568_EXAMPLE)
    assert attribute.tag == 1
    assert attribute.suite is AES_CM_128_HMAC_SHA1_80
    assert len(attribute.key_salt) == 30
    assert attribute.lifetime == "2^20" and attribute.lifetime_packets == 1 << 20
    assert attribute.mki == (1, 4)
    assert str(attribute) == RFC4568_EXAMPLE
    assert bytes(attribute) == RFC4568_EXAMPLE.encode()


def test_parse_variants() -> None:
    plain = CryptoAttribute.parse(
        b"2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj"
    )
    assert (plain.tag, plain.suite, plain.lifetime, plain.mki) == (2, AES_CM_128_HMAC_SHA1_32, None, None)
    with_session = CryptoAttribute.parse(
        "crypto:3 AES_CM_128_HMAC_SHA1_80 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|1048576 "
        "KDR=1 UNENCRYPTED_SRTCP"
    )
    assert with_session.lifetime_packets == 1048576
    assert with_session.session_params == ("KDR=1", "UNENCRYPTED_SRTCP")
    assert str(with_session).endswith("|1048576 KDR=1 UNENCRYPTED_SRTCP")


def test_generate_round_trips() -> None:
    for suite in SUITES:
        attribute = CryptoAttribute.generate(tag=7, suite=suite)
        assert CryptoAttribute.parse(str(attribute)) == attribute
        assert len(attribute.key_params) == len("inline:") + 40


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1 AES_CM_128_HMAC_SHA1_80", "crypto attribute needs a tag, a suite and key parameters"),
        ("x AES_CM_128_HMAC_SHA1_80 inline:AAAA", "crypto attribute tag is not a number: 'x'"),
        ("1 F8_128_HMAC_SHA1_80 inline:AAAA", "unsupported SRTP crypto suite: F8_128_HMAC_SHA1_80"),
        ("1 AES_CM_128_HMAC_SHA1_80 uri:x", "crypto key method is not inline: 'uri:x'"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", "crypto key is not valid base64"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:AAAA", "crypto key||salt must be 30 bytes, got 3"),
        (
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^x",
            "crypto key parameter is invalid: '2^x'",
        ),
    ],
)
def test_parse_errors(value: str, message: str) -> None:
    with pytest.raises(SrtpError) as info:
        CryptoAttribute.parse(value)
    assert str(info.value).startswith(message)


def pair(s: SrtpSuite = AES_CM_128_HMAC_SHA1_80) -> tuple[SrtpContext, SrtpContext]:
    ours, theirs = CryptoAttribute.generate(1, s), CryptoAttribute.generate(1, s)
    return SrtpContext(ours, theirs), SrtpContext(theirs, ours)


def rtp(seq: int) -> bytes:
    return bytes(RtpPacket(0, seq, seq * 160, 0x11223344, bytes([seq % 256]) * 160))


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_protect_unprotect_round_trip(suite: SrtpSuite) -> None:
    alice, bob = pair(suite)
    for seq in range(1000, 1010):
        plain = rtp(seq)
        protected = alice.protect(plain)
        assert len(protected) == len(plain) + suite.rtp_tag_length
        assert protected[12:] != plain[12:]  # payload encrypted
        assert bob.unprotect(protected) == plain
    report = bytes(ReceiverReport(0x11223344, (ReportBlock(5, 0, 0, 1009, 3, 0, 0),)))
    protected_rtcp = bob.protect_rtcp(report)
    assert len(protected_rtcp) == len(report) + 4 + 10  # SRTCP index + 80-bit tag
    assert alice.unprotect_rtcp(protected_rtcp) == report


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_tampered_packet_rejected(suite: SrtpSuite) -> None:
    alice, bob = pair(suite)
    protected = bytearray(alice.protect(rtp(1)))
    protected[20] ^= 0x01
    with pytest.raises(SrtpError, match="SRTP unprotect failed: authentication failure"):
        bob.unprotect(bytes(protected))
    protected_rtcp = bytearray(bob.protect_rtcp(bytes(ReceiverReport(1))))
    protected_rtcp[5] ^= 0x01
    with pytest.raises(SrtpError, match="SRTCP unprotect failed"):
        alice.unprotect_rtcp(bytes(protected_rtcp))


@pytest.mark.parametrize("suite", SUITES, ids=lambda s: s.name)
def test_replay_rejected(suite: SrtpSuite) -> None:
    alice, bob = pair(suite)
    protected = alice.protect(rtp(42))
    assert bob.unprotect(protected) == rtp(42)
    with pytest.raises(SrtpError, match="SRTP unprotect failed: replay check failed"):
        bob.unprotect(protected)


def test_wrong_key_and_garbage_rejected() -> None:
    alice, _ = pair()
    _, mallory = pair()
    with pytest.raises(SrtpError, match="SRTP unprotect failed"):
        mallory.unprotect(alice.protect(rtp(1)))
    with pytest.raises(SrtpError, match="SRTP unprotect failed"):
        mallory.unprotect(b"\x80")
    with pytest.raises(SrtpError, match="SRTP protect failed"):
        alice.protect(b"\x80")


def test_suite_mismatch() -> None:
    with pytest.raises(SrtpError, match="SRTP suites differ"):
        SrtpContext(
            CryptoAttribute.generate(1, AES_CM_128_HMAC_SHA1_80),
            CryptoAttribute.generate(1, AES_CM_128_HMAC_SHA1_32),
        )
