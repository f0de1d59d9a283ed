"""SDES-SRTP through SIP (RFC 4568, RFC 3264): the ``srtp_policy`` setting, our own key in the answer,
the crypto handed to the media engine, 488 where the policy or the keys refuse the offer."""

from __future__ import annotations

import pytest

from edge.media.srtp import CryptoAttribute, SrtpContext
from edge.media_port import MediaOptions
from edge.sdp import SessionDescription
from edge.uas.call import OpenMedia, UpdateMedia
from tests.support.uas_harness import OFFER, Edge, Phone, make_edge, responses, statuses

KEY80 = CryptoAttribute.generate(1).key_params  # the caller's keys: 30 random bytes each
KEY32 = CryptoAttribute.generate(1).key_params


def savp_offer(*cryptos: str, port: int = 40000) -> bytes:
    lines = [
        "v=0", "o=alice 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
        f"m=audio {port} RTP/SAVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
        "a=sendrecv", *(f"a=crypto:{c}" for c in cryptos),
    ]  # fmt: skip
    return ("\r\n".join(lines) + "\r\n").encode()


def opened(effects: list) -> MediaOptions:
    (effect,) = [e for e in effects if isinstance(e, OpenMedia)]
    return effect.options


@pytest.mark.parametrize(
    "suite,key", [("AES_CM_128_HMAC_SHA1_80", KEY80), ("AES_CM_128_HMAC_SHA1_32", KEY32)]
)
def test_savp_offer_answered_with_our_own_key(edge: Edge, phone: Phone, suite: str, key: str) -> None:
    out = phone.invite(0.0, body=savp_offer(f"1 {suite} {key}"))
    assert statuses(out) == [200]
    answer = SessionDescription.parse(responses(out)[0].body)
    audio = answer.media[0]
    assert audio.proto == "RTP/SAVP"
    (ours,) = audio.cryptos
    assert (ours.tag, ours.suite) == (1, suite) and ours.key_params != key
    media = opened(out)
    assert media.crypto_remote == f"1 {suite} {key}" and media.crypto_local == str(ours)
    # the two attributes make a working pair: what one side protects the other unprotects
    local, remote = CryptoAttribute.parse(media.crypto_local), CryptoAttribute.parse(media.crypto_remote)
    packet = b"\x80\x00\x00\x01" + bytes(8) + b"\x7f" * 160
    assert SrtpContext(remote, local).unprotect(SrtpContext(local, remote).protect(packet)) == packet
    assert edge.facts()[3].srtp is True  # CallAnswered


def test_first_usable_suite_is_chosen(edge: Edge, phone: Phone) -> None:
    out = phone.invite(
        0.0, body=savp_offer("1 AES_256_CM_HMAC_SHA1_80 inline:abc", f"2 AES_CM_128_HMAC_SHA1_32 {KEY32}")
    )
    (ours,) = SessionDescription.parse(responses(out)[0].body).media[0].cryptos
    assert (ours.tag, ours.suite) == (2, "AES_CM_128_HMAC_SHA1_32")


def test_optional_policy_answers_plain_offers_in_plain_rtp(edge: Edge, phone: Phone) -> None:
    out = phone.invite(0.0)
    assert b"RTP/AVP" in responses(out)[0].body and b"a=crypto" not in responses(out)[0].body
    assert opened(out).crypto_local is None and edge.facts()[3].srtp is False


def test_required_policy_rejects_plain_offer_with_488() -> None:
    edge = make_edge(srtp_policy="required")
    out = Phone(edge).invite(0.0, body=OFFER)
    assert statuses(out) == [488]
    rejected = next(r for r in edge.facts() if type(r).__name__ == "CallRejected")
    assert (rejected.sip_status, rejected.stage) == (488, "sdp")
    assert edge.pool.in_use == 0  # refused before any port was taken
    ok = Phone(edge).invite(1.0, body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}"))
    assert statuses(ok) == [200]


def test_off_policy_refuses_savp_offers() -> None:
    edge = make_edge(srtp_policy="off")
    assert statuses(Phone(edge).invite(0.0, body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}"))) == [488]


def test_unusable_key_is_refused_before_answering(edge: Edge, phone: Phone) -> None:
    short = "inline:c2hvcnQ="  # 5 bytes, not the 30 of key||salt
    out = phone.invite(0.0, body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {short}"))
    assert statuses(out) == [488]
    assert not [e for e in out if isinstance(e, OpenMedia)]


def test_reinvite_keeps_our_key_and_refuses_new_remote_keys(edge: Edge, phone: Phone) -> None:
    first = phone.invite(0.0, body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}"))
    local = opened(first).crypto_local
    phone.ack(0.01)
    hold = phone.send(
        phone.request("INVITE", body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}", port=40002)), 1.0
    )
    assert statuses(hold) == [200]
    (ours,) = SessionDescription.parse(responses(hold)[0].body).media[0].cryptos
    assert str(ours) == local  # same key: the running SRTP session stays valid
    assert next(e for e in hold if isinstance(e, UpdateMedia)).remote_addr == ("192.0.2.10", 40002)
    phone.ack(1.01, cseq=phone.cseq)
    rekey = phone.send(phone.request("INVITE", body=savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY32}")), 2.0)
    assert statuses(rekey) == [488]
    plain = phone.send(phone.request("INVITE", body=OFFER), 3.0)
    assert statuses(plain) == [488]  # no downgrade to plain RTP in mid-call


def test_late_offer_under_required_policy_offers_savp() -> None:
    edge = make_edge(srtp_policy="required")
    phone = Phone(edge)
    out = phone.invite(0.0, body=b"")
    offer = SessionDescription.parse(responses(out)[0].body)
    (ours,) = offer.media[0].cryptos
    assert offer.media[0].proto == "RTP/SAVP"
    assert edge.facts()[3].srtp is True
    answer = savp_offer(f"1 AES_CM_128_HMAC_SHA1_80 {KEY80}").replace(b"RTP/SAVP 0 101", b"RTP/SAVP 0")
    media = opened(phone.ack(0.05, body=answer))
    assert media.crypto_local == str(ours) and media.crypto_remote.endswith(KEY80)
