"""SDP parsing and offer/answer."""

from pathlib import Path

import pytest

from edge.media.codecs.registry import PCMA_CODEC, CodecRegistry
from edge.sdp import (
    Crypto,
    SdpNegotiationError,
    SdpParseError,
    SessionDescription,
    accept_answer,
    answer,
    make_offer,
)
from edge.sip.message import parse_message

CAPTURED = Path(__file__).parents[2] / "fixtures" / "sip" / "captured"
KEY = "inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVzcyAoc2VuZGVyKQ=="


def sdp_of(name: str) -> SessionDescription:
    return SessionDescription.parse(parse_message((CAPTURED / name).read_bytes()).body)


def lines(*items: str) -> SessionDescription:
    return SessionDescription.parse("\r\n".join(items) + "\r\n")


BASE = ("v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0")


@pytest.mark.parametrize(
    "name",
    [
        "linphone_invite.sip",
        "zoiper_invite.sip",
        "sipp_uac_invite.sip",
        "freeswitch_200.sip",
        "linphone_reinvite_hold.sip",
    ],
)
def test_round_trip_real_phones(name: str) -> None:
    body = parse_message((CAPTURED / name).read_bytes()).body
    assert bytes(SessionDescription.parse(body)) == body


def test_linphone_offer_fields_and_answer() -> None:
    offer = sdp_of("linphone_invite.sip")
    audio = offer.media[0]
    assert offer.origin.session_id == "2291" and offer.origin.version == 1430
    assert [c.encoding for c in audio.codecs()][:5] == ["opus", "speex", "speex", "PCMU", "PCMA"]
    assert audio.codecs()[0].clock_rate == 48000 and audio.codecs()[0].channels == 2
    n = answer(offer, local_address="203.0.113.10", local_port=30000)
    assert n.codec.encoding == "PCMU" and n.codec.payload_type == 0
    assert (
        n.telephone_event is not None and n.telephone_event.payload_type == 100
    )  # the /8000 one, as offered
    assert (n.remote_address, n.remote_port, n.direction, n.ptime) == ("192.168.1.34", 7078, "sendrecv", 20)
    media = n.sdp.media[0]
    assert media.fmts == ("0", "100") and media.port == 30000 and media.direction == "sendrecv"
    assert n.sdp.connection is not None and n.sdp.connection.address == "203.0.113.10"
    assert SessionDescription.parse(bytes(n.sdp)) == n.sdp


def test_zoiper_prefers_pcmu_when_pcma_not_supported_and_keeps_dynamic_te() -> None:
    n = answer(
        sdp_of("zoiper_invite.sip"), local_address="h", local_port=4000, registry=CodecRegistry([PCMA_CODEC])
    )
    assert (
        n.codec.payload_type == 8 and n.telephone_event is not None and n.telephone_event.payload_type == 101
    )


def test_first_offered_supported_codec_wins() -> None:
    offer = lines(*BASE, "m=audio 5004 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000", "a=ptime:30")
    n = answer(offer, local_address="h", local_port=4000)
    assert n.codec.encoding == "PCMA" and n.ptime == 30
    assert ("a", "ptime:30") in n.sdp.media[0].lines


@pytest.mark.parametrize(
    ("offered", "expected"),
    [("sendonly", "recvonly"), ("recvonly", "sendonly"), ("inactive", "inactive"), ("sendrecv", "sendrecv")],
)
def test_direction_mirrored(offered: str, expected: str) -> None:
    n = answer(lines(*BASE, "m=audio 5004 RTP/AVP 0", f"a={offered}"), local_address="h", local_port=1)
    assert n.direction == expected and n.sdp.media[0].direction == expected


def test_session_level_direction_and_hold_unhold() -> None:
    hold = sdp_of("linphone_reinvite_hold.sip")
    assert hold.is_hold(hold.media[0])
    n = answer(hold, local_address="h", local_port=1)
    assert n.direction == "recvonly" and n.on_hold
    old_style = lines(
        "v=0",
        "o=- 1 2 IN IP4 192.0.2.5",
        "s=-",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=sendrecv",
        "m=audio 5004 RTP/AVP 0",
    )
    assert old_style.is_hold(old_style.media[0])
    assert answer(old_style, local_address="h", local_port=1).direction == "recvonly"
    unhold = answer(sdp_of("linphone_invite.sip"), local_address="h", local_port=1, previous=n.sdp)
    assert unhold.direction == "sendrecv"
    assert unhold.sdp.origin.version == n.sdp.origin.version + 1  # re-answer bumps o= version
    assert unhold.sdp.origin.session_id == n.sdp.origin.session_id


def test_media_level_connection_overrides_session() -> None:
    offer = lines(*BASE, "m=audio 5004 RTP/AVP 0", "c=IN IP4 198.51.100.9", "m=video 5006 RTP/AVP 31")
    n = answer(offer, local_address="h", local_port=1)
    assert n.remote_address == "198.51.100.9"
    assert [(m.media, m.port) for m in n.sdp.media] == [("audio", 1), ("video", 0)]  # video refused


def test_488_cases() -> None:
    with pytest.raises(SdpNegotiationError, match="no common codec") as info:
        answer(lines(*BASE, "m=audio 5004 RTP/AVP 18 3"), local_address="h", local_port=1)
    assert info.value.status == 488
    with pytest.raises(SdpNegotiationError, match="SRTP required"):
        answer(lines(*BASE, "m=audio 5004 RTP/AVP 0"), local_address="h", local_port=1, require_srtp=True)
    savp = lines(*BASE, "m=audio 5004 RTP/SAVP 0", "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:abc")
    with pytest.raises(SdpNegotiationError, match="no acceptable SRTP"):
        answer(
            savp,
            local_address="h",
            local_port=1,
            crypto_for=lambda s: KEY if s.startswith("AES_CM") else None,
        )
    with pytest.raises(SdpNegotiationError, match="no audio"):
        answer(lines(*BASE, "m=video 5004 RTP/AVP 31"), local_address="h", local_port=1)


def test_crypto_lines_and_srtp_answer() -> None:
    offer = lines(
        *BASE,
        "m=audio 5004 RTP/SAVP 0",
        "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:zzz",
        f"a=crypto:2 AES_CM_128_HMAC_SHA1_80 {KEY}|2^20|1:32 UNENCRYPTED_SRTCP",
    )
    c2 = offer.media[0].cryptos[1]
    assert (c2.tag, c2.suite, c2.session_params) == (2, "AES_CM_128_HMAC_SHA1_80", ("UNENCRYPTED_SRTCP",))
    assert c2.inline_key == KEY[7:]
    n = answer(
        offer,
        local_address="h",
        local_port=1,
        require_srtp=True,
        crypto_for=lambda s: KEY if s == "AES_CM_128_HMAC_SHA1_80" else None,
    )
    assert n.local_crypto == Crypto(2, "AES_CM_128_HMAC_SHA1_80", KEY) and n.remote_crypto == c2
    assert n.sdp.media[0].proto == "RTP/SAVP" and n.sdp.media[0].cryptos == [n.local_crypto]


def test_late_offer_and_reoffer_version_bump() -> None:
    offer = make_offer(local_address="203.0.113.10", local_port=30000)
    assert offer.media[0].fmts == ("0", "8", "9", "111", "101", "96") and offer.origin.version == 1
    assert offer.media[0].attributes("rtpmap") == [
        "0 PCMU/8000",
        "8 PCMA/8000",
        "9 G722/8000",
        "111 opus/48000/2",
        "101 telephone-event/8000",
        "96 telephone-event/48000",
    ]
    g711 = make_offer(local_address="203.0.113.10", local_port=30000, codecs=("PCMU", "PCMA"))
    assert g711.media[0].fmts == ("0", "8", "101")
    peer_answer = lines(
        "v=0",
        "o=- 9 9 IN IP4 192.0.2.7",
        "s=-",
        "c=IN IP4 192.0.2.7",
        "t=0 0",
        "m=audio 6000 RTP/AVP 8 101",
        "a=rtpmap:101 telephone-event/8000",
        "a=recvonly",
    )
    n = accept_answer(offer, peer_answer)
    assert n.codec.encoding == "PCMA" and n.remote_port == 6000 and n.direction == "sendonly"
    again = make_offer(local_address="203.0.113.10", local_port=30000, previous=offer, direction="sendonly")
    assert again.origin.version == 2 and again.origin.session_id == offer.origin.session_id
    with pytest.raises(SdpNegotiationError):
        accept_answer(offer, lines(*BASE, "m=audio 6000 RTP/AVP 18"))


def test_parse_errors() -> None:
    for bad in [
        "",
        "x=0\r\n",
        "v=0\r\no=bad\r\n",
        "v=0\r\no=- 1 1 IN IP4 h\r\nm=audio x RTP/AVP 0\r\n",
        "junk",
    ]:
        with pytest.raises(SdpParseError):
            SessionDescription.parse(bad)


def test_g722_only_offer_is_answered_with_g722_and_its_telephone_event() -> None:
    offer = lines(*BASE, "m=audio 5004 RTP/AVP 9 101", "a=rtpmap:101 telephone-event/8000")
    n = answer(offer, local_address="h", local_port=4000)
    assert n.codec.encoding == "G722" and n.codec.payload_type == 9 and n.codec.clock_rate == 8000
    assert n.binding is not None and n.binding.codec.name == "G722" and n.binding.payload_type == 9
    assert n.telephone_event is not None and n.telephone_event.payload_type == 101
    assert n.sdp.media[0].fmts == ("9", "101")
    assert n.sdp.media[0].attributes("rtpmap") == ["9 G722/8000", "101 telephone-event/8000"]


def test_opus_only_offer_answers_opus_with_fmtp_and_48k_telephone_event() -> None:
    offer = lines(
        *BASE,
        "m=audio 5004 RTP/AVP 109 101 100",
        "a=rtpmap:109 opus/48000/2",
        "a=fmtp:109 maxaveragebitrate=20000;useinbandfec=1",
        "a=rtpmap:101 telephone-event/8000",
        "a=rtpmap:100 telephone-event/48000",
    )
    n = answer(offer, local_address="h", local_port=4000)
    assert n.codec.encoding == "opus" and n.codec.payload_type == 109 and n.codec.channels == 2
    assert n.binding is not None and n.binding.remote_fmtp == "maxaveragebitrate=20000;useinbandfec=1"
    assert n.telephone_event is not None and n.telephone_event.payload_type == 100  # the 48 kHz one
    media = n.sdp.media[0]
    assert media.fmts == ("109", "100")
    assert media.attributes("rtpmap")[0] == "109 opus/48000/2"
    assert media.attributes("fmtp")[0] == "109 maxplaybackrate=16000;sprop-maxcapturerate=16000"
    assert SessionDescription.parse(bytes(n.sdp)) == n.sdp


def test_g711_is_preferred_over_wideband_whatever_the_offer_order() -> None:
    offer = lines(*BASE, "m=audio 5004 RTP/AVP 111 9 8", "a=rtpmap:111 opus/48000/2")
    n = answer(offer, local_address="h", local_port=4000)
    assert n.codec.encoding == "PCMA" and n.binding is not None and n.binding.payload_type == 8
    wide = lines(*BASE, "m=audio 5004 RTP/AVP 111 9", "a=rtpmap:111 opus/48000/2")
    assert answer(wide, local_address="h", local_port=4000).codec.encoding == "opus"


def test_accept_answer_maps_the_answered_codec_through_the_registry() -> None:
    offer = make_offer(local_address="203.0.113.10", local_port=30000)
    peer = lines(
        *BASE,
        "m=audio 6000 RTP/AVP 111 96",
        "a=rtpmap:111 OPUS/48000/2",
        "a=fmtp:111 useinbandfec=1",
        "a=rtpmap:96 telephone-event/48000",
    )
    n = accept_answer(offer, peer)
    assert n.binding is not None and n.binding.codec.name == "opus" and n.binding.payload_type == 111
    assert n.binding.remote_fmtp == "useinbandfec=1"
    assert n.telephone_event is not None and n.telephone_event.payload_type == 96


def _offer_at(conn: str, port: int = 4000) -> SessionDescription:
    return lines("v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", conn, "t=0 0", f"m=audio {port} RTP/AVP 0")


@pytest.mark.parametrize(
    "conn",
    [
        "c=IN IP4 not-an-ip",
        "c=IN IP4 host.example.com",  # a name: never resolved on the media path
        "c=IN IP4 2001:db8::1",  # address type mismatch
        "c=IN IP6 192.0.2.5",
        "c=IN IP4 192.0.2.256",
        "c=IN IP4 010.0.0.1",  # leading zeros: ambiguous (octal to some stacks)
        "c=IN IP4 224.0.0.1",  # multicast
        "c=IN IP4 239.1.2.3/127",
        "c=IN IP4 255.255.255.255",
        "c=IN IP4 240.0.0.1",  # reserved
        "c=IN IP6 ff02::1",
        "c=IN IP6 fe80::1%eth0",
        "c=ATM NSAP 47.0091",
        "c=IN IPX 1.2.3.4",
    ],
)
def test_unusable_media_addresses_are_refused_488(conn: str) -> None:
    with pytest.raises(SdpNegotiationError) as info:
        answer(_offer_at(conn), local_address="203.0.113.10", local_port=30000)
    assert info.value.status == 488


@pytest.mark.parametrize("conn", ["c=IN IP4 192.0.2.5", "c=IN IP4 127.0.0.2", "c=IN IP6 2001:db8::7"])
def test_usable_media_addresses_pass(conn: str) -> None:
    n = answer(_offer_at(conn), local_address="203.0.113.10", local_port=30000)
    assert n.remote_address == conn.split()[-1]


def test_unspecified_address_is_only_the_hold_idiom() -> None:
    n = answer(_offer_at("c=IN IP4 0.0.0.0"), local_address="203.0.113.10", local_port=30000)
    assert n.on_hold and n.remote_address == "0.0.0.0"


def test_the_answer_in_an_ack_is_checked_too() -> None:
    offer = make_offer(local_address="203.0.113.10", local_port=30000)
    bad = _offer_at("c=IN IP4 not-an-ip")
    with pytest.raises(SdpNegotiationError):
        accept_answer(offer, bad)
    assert accept_answer(offer, _offer_at("c=IN IP4 192.0.2.9")).remote_address == "192.0.2.9"
