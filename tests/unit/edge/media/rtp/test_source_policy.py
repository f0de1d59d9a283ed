"""The media source/destination rule: every branch, and its invariants under random traffic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.media.rtp.source_policy import (
    MAX_CREDIT,
    TRUSTED,
    MediaTrust,
    SourcePolicy,
    in_networks,
    parse_networks,
)

SIGNAL = "198.51.100.7"  # where the INVITE came from
PRIVATE = "192.168.1.20"  # the c= of a phone behind NAT
VICTIM = "203.0.113.9"  # someone else's address
TRUNK = parse_networks(["192.0.2.0/28"])


def caller(proven: bool = False, **kw: object) -> MediaTrust:
    return MediaTrust(signal_ip=SIGNAL, proven=proven, **kw)  # type: ignore[arg-type]


# --- destination ------------------------------------------------------------------------------


def test_sdp_address_equal_to_the_signalling_ip_is_the_destination() -> None:
    p = SourcePolicy(caller(proven=True), (SIGNAL, 4000))
    assert p.dest == (SIGNAL, 4000) and p.rtcp_dest == (SIGNAL, 4001)


@pytest.mark.parametrize("ip", [PRIVATE, VICTIM, "127.0.0.2"])
def test_another_sdp_address_gets_nothing_until_the_callers_rtp_arrives(ip: str) -> None:
    p = SourcePolicy(caller(proven=True), (ip, 4000))
    assert p.dest is None and p.rtcp_dest is None
    assert not p.accept((VICTIM, 5000), 1.0, 172)  # not the signalling IP: not taken
    assert p.dest is None
    assert p.accept((SIGNAL, 31000), 1.0, 172)  # the NAT's public port
    assert p.dest == (SIGNAL, 31000) and p.rtcp_dest == (SIGNAL, 31001)


def test_latched_source_wins_over_the_sdp_port() -> None:
    p = SourcePolicy(caller(proven=True), (SIGNAL, 4000))
    assert p.accept((SIGNAL, 4100), 0.0, 172)
    assert p.dest == (SIGNAL, 4100)  # symmetric RTP


def test_trunk_ranges_are_destinations_and_media_anywhere_takes_the_sdp_as_given() -> None:
    inside = SourcePolicy(caller(proven=True, trunk=TRUNK), ("192.0.2.9", 4000))
    assert inside.dest == ("192.0.2.9", 4000)
    outside = SourcePolicy(caller(proven=True, trunk=TRUNK), (VICTIM, 4000))
    assert outside.dest is None
    anywhere = SourcePolicy(caller(proven=True, trunk=TRUNK, media_anywhere=True), (VICTIM, 4000))
    assert anywhere.dest == (VICTIM, 4000)
    assert anywhere.accept((VICTIM, 4000), 0.0, 172)  # the media gateway named in the SDP
    assert not SourcePolicy(caller(proven=True, trunk=TRUNK, media_anywhere=True), (VICTIM, 4000)).accept(
        ("203.0.113.77", 4000), 0.0, 172
    )


def test_no_signalling_peer_sends_where_told_and_latches_anything() -> None:
    p = SourcePolicy(TRUSTED, (VICTIM, 4000))
    assert p.dest == (VICTIM, 4000) and p.may_send(10_000)
    assert p.accept(("10.9.9.9", 7), 0.0, 172) and p.dest == ("10.9.9.9", 7)
    assert not p.accept(("10.9.9.8", 7), 1.0, 172)
    assert p.accept(("10.9.9.8", 7), 2.5, 172)  # plain symmetric RTP: any source after 2 s of silence
    assert SourcePolicy(TRUSTED, None).dest is None


def test_update_sdp_forgets_the_latches() -> None:
    p = SourcePolicy(caller(proven=True), (SIGNAL, 4000))
    p.accept((SIGNAL, 4100), 0.0, 172)
    p.accept_rtcp((SIGNAL, 4101), 0.0, 80)
    p.update_sdp((SIGNAL, 6000))
    assert (p.dest, p.rtcp_dest, p.latched) == ((SIGNAL, 6000), (SIGNAL, 6001), None)
    p.update_sdp(None)
    assert p.dest is None


# --- proof ---------------------------------------------------------------------------------------


def test_unproven_caller_gets_nothing_until_its_ack() -> None:
    p = SourcePolicy(caller(), (SIGNAL, 4000))
    assert p.dest == (SIGNAL, 4000)
    assert not p.may_send(172)
    p.prove()
    assert p.may_send(172) and p.may_send(10**6)


def test_before_the_ack_each_byte_received_earns_one_byte_sent() -> None:
    p = SourcePolicy(caller(), (SIGNAL, 4000))
    assert p.accept((SIGNAL, 4000), 0.0, 100)
    assert not p.may_send(172)  # 100 bytes banked, 172 asked
    assert p.accept((SIGNAL, 4000), 0.02, 100)
    assert p.may_send(172) and p.credit == 28
    for i in range(1000):
        p.accept((SIGNAL, 4000), 1 + i * 0.02, 1500)
    assert p.credit == MAX_CREDIT


def test_a_proven_caller_banks_no_credit() -> None:
    p = SourcePolicy(caller(proven=True), (SIGNAL, 4000))
    p.accept((SIGNAL, 4000), 0.0, 172)
    assert p.credit == 0


# --- re-latch ------------------------------------------------------------------------------------


def test_relatch_a_same_ip_after_silence() -> None:
    p = SourcePolicy(caller(proven=True), (SIGNAL, 4000))
    assert p.accept((SIGNAL, 4000), 0.0, 172)
    assert not p.accept((SIGNAL, 4002), 1.0, 172)  # the first still talks (last seen 0.0)
    assert p.accept((SIGNAL, 4000), 1.5, 172)
    assert not p.accept((SIGNAL, 4002), 3.4, 172)  # 1.9 s of silence
    assert p.accept((SIGNAL, 4002), 3.6, 172)  # 2.1 s: NAT rebinding
    assert p.dest == (SIGNAL, 4002)
    assert not p.accept((VICTIM, 4000), 100.0, 172)  # another IP never takes over, however silent


def test_relatch_b_srtp_authenticated_packets_take_over_at_once() -> None:
    p = SourcePolicy(caller(proven=True), (SIGNAL, 4000), srtp=True)
    assert p.accept((SIGNAL, 4000), 0.0, 172, authenticated=True)
    assert p.accept((VICTIM, 9), 0.1, 172, authenticated=True)  # holds the key
    assert p.dest == (VICTIM, 9)
    plain = SourcePolicy(caller(proven=True), (SIGNAL, 4000), srtp=False)
    plain.accept((SIGNAL, 4000), 0.0, 172)
    assert not plain.accept((VICTIM, 9), 0.1, 172, authenticated=True)  # no SRTP: the flag means nothing


def test_relatch_c_trunk_ranges_take_over_at_once() -> None:
    p = SourcePolicy(caller(proven=True, trunk=TRUNK), (SIGNAL, 4000))
    assert p.accept((SIGNAL, 4000), 0.0, 172)
    assert p.accept(("192.0.2.3", 4000), 0.1, 172)
    assert p.dest == ("192.0.2.3", 4000)
    assert not p.accept(("192.0.2.100", 4000), 0.2, 172)  # outside the /28


def test_rtcp_follows_the_same_rule_with_its_own_latch() -> None:
    p = SourcePolicy(caller(proven=True), (PRIVATE, 4000))
    assert not p.accept_rtcp((VICTIM, 4001), 0.0, 80)
    assert p.rtcp_dest is None
    assert p.accept_rtcp((SIGNAL, 5001), 0.0, 80)
    assert p.rtcp_dest == (SIGNAL, 5001)
    assert p.dest is None  # RTCP does not make an RTP destination
    assert not p.accept_rtcp((SIGNAL, 5003), 1.0, 80)
    assert p.accept_rtcp((SIGNAL, 5003), 2.5, 80)


def test_rtcp_may_come_from_the_latched_rtp_sources_ip() -> None:
    p = SourcePolicy(caller(proven=True, trunk=TRUNK, media_anywhere=True), ("192.0.2.9", 4000))
    assert p.accept(("192.0.2.9", 4000), 0.0, 172)
    assert p.accept_rtcp(("192.0.2.9", 4001), 0.0, 80)
    assert p.rtcp_dest == ("192.0.2.9", 4001)


def test_networks() -> None:
    nets = parse_networks(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])
    assert (
        in_networks("10.1.2.3", nets) and in_networks("2001:db8::1", nets) and in_networks("192.0.2.7", nets)
    )
    assert not in_networks("192.0.2.8", nets) and not in_networks("not-an-ip", nets)
    assert not in_networks("10.1.2.3", ())
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.0/33"])


# --- invariants under random traffic ----------------------------------------------------------------

IPS = st.sampled_from([SIGNAL, PRIVATE, VICTIM, "192.0.2.3", "127.0.0.2"])
EVENTS = st.lists(
    st.tuples(
        st.sampled_from(["rtp", "rtcp", "send", "prove", "sdp"]),
        IPS,
        st.integers(1, 65535),
        st.floats(0, 0.5),
        st.integers(1, 1500),
        st.booleans(),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(
    events=EVENTS,
    sdp_ip=IPS,
    srtp=st.booleans(),
    trunk=st.booleans(),
    proven=st.booleans(),
)
def test_invariants(
    events: list[tuple[str, str, int, float, int, bool]], sdp_ip: str, srtp: bool, trunk: bool, proven: bool
) -> None:
    trust = caller(proven=proven, trunk=TRUNK if trunk else ())
    p = SourcePolicy(trust, (sdp_ip, 4000), srtp=srtp)
    now = 0.0
    received = sent = 0
    was_proven = proven
    for kind, ip, port, dt, size, auth in events:
        now += dt
        if kind == "rtp":
            if p.accept((ip, port), now, size, authenticated=auth):
                received += size
        elif kind == "rtcp":
            if p.accept_rtcp((ip, port), now, size, authenticated=auth):
                received += size
        elif kind == "send":
            if p.may_send(size) and not p.proven:
                sent += size
        elif kind == "prove":
            p.prove()
            was_proven = True
        else:
            p.update_sdp((ip, port))
        # an unproven caller never gets more bytes than it sent
        assert was_proven or sent <= received
        # without SRTP, the destination is always the signalling IP or inside the trunk's ranges
        if p.dest is not None and not srtp:
            assert p.dest[0] == SIGNAL or (trunk and in_networks(p.dest[0], TRUNK))
        if p.rtcp_dest is not None and not srtp:
            assert p.rtcp_dest[0] == SIGNAL or (trunk and in_networks(p.rtcp_dest[0], TRUNK))
