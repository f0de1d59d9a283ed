"""The per-source gate: method sniffing, token buckets, size cap, auth-failure blocks, bounded tables."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.uas.ratelimit import LIMITED_METHODS, Bucket, SourceGuard, SourceLimits, sniff_method

INVITE = b"INVITE sip:1000@192.0.2.1 SIP/2.0\r\nVia: x\r\n\r\n"
OPTIONS = b"OPTIONS sip:192.0.2.1 SIP/2.0\r\n\r\n"


def test_sniff_method() -> None:
    assert LIMITED_METHODS[sniff_method(INVITE)] == "INVITE"
    assert LIMITED_METHODS[sniff_method(b"REGISTER sip:x SIP/2.0")] == "REGISTER"
    assert LIMITED_METHODS[sniff_method(OPTIONS)] == "OPTIONS"
    for other in (b"BYE sip:x SIP/2.0", b"ACK sip:x", b"SIP/2.0 200 OK", b"INVITEX", b"invite sip:x", b""):
        assert sniff_method(other) == -1


def test_burst_then_rate() -> None:
    guard = SourceGuard(SourceLimits(invite=Bucket(10, 20)))
    results = [guard.check("192.0.2.1", INVITE, "udp", 0.0) for _ in range(25)]
    assert results[:20] == [None] * 20
    assert results[20:] == [("rate_limited", 0)] * 5
    assert guard.check("192.0.2.1", INVITE, "udp", 0.05) == ("rate_limited", 0)  # half a token
    assert guard.check("192.0.2.1", INVITE, "udp", 0.1) is None  # one token at 10/s
    assert guard.check("192.0.2.1", INVITE, "udp", 0.11) == ("rate_limited", 0)
    assert guard.check("192.0.2.2", INVITE, "udp", 0.11) is None  # another source has its own bucket
    assert guard.check("192.0.2.1", OPTIONS, "udp", 0.11) is None  # and another method its own
    assert guard.check("192.0.2.1", b"BYE sip:x SIP/2.0\r\n\r\n", "udp", 0.11) is None  # not limited


def test_zero_rate_means_unlimited() -> None:
    guard = SourceGuard(SourceLimits(invite=Bucket(0, 1)))
    assert all(guard.check("192.0.2.1", INVITE, "udp", 0.0) is None for _ in range(1000))


def test_oversized_udp_is_refused_but_not_over_tcp() -> None:
    guard = SourceGuard(SourceLimits(max_udp_bytes=100))
    big = OPTIONS + b"x" * 100
    assert guard.check("192.0.2.1", big, "udp", 0.0) == ("oversized", 2)
    assert guard.check("192.0.2.1", big, "tcp", 0.0) is None
    assert SourceGuard(SourceLimits(max_udp_bytes=0)).check("192.0.2.1", big, "udp", 0.0) is None


def test_auth_failures_block_the_source_for_a_while() -> None:
    guard = SourceGuard(SourceLimits(auth_fail_limit=3, auth_fail_window_s=10, block_s=60))
    assert not guard.auth_failed("192.0.2.1", 0.0)
    assert not guard.auth_failed("192.0.2.1", 1.0)
    assert not guard.auth_failed("192.0.2.1", 20.0)  # the first two fell out of the window
    assert not guard.auth_failed("192.0.2.1", 21.0)
    assert guard.auth_failed("192.0.2.1", 22.0)  # three within 10 s
    assert guard.check("192.0.2.1", b"BYE x", "udp", 23.0) == ("blocked", -1)  # everything is dropped
    assert guard.check("192.0.2.2", INVITE, "udp", 23.0) is None
    assert guard.check("192.0.2.1", INVITE, "udp", 82.1) is None  # block over
    assert not guard.blocked("192.0.2.1", 83.0)


def test_no_blocking_when_disabled() -> None:
    guard = SourceGuard(SourceLimits(auth_fail_limit=0))
    assert not any(guard.auth_failed("192.0.2.1", float(i)) for i in range(100))


def test_tables_are_bounded_under_a_spoofed_source_flood() -> None:
    guard = SourceGuard(SourceLimits(max_sources=1000, auth_fail_limit=2))
    for i in range(20_000):
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"
        guard.check(ip, INVITE, "udp", i * 1e-4)
        guard.auth_failed(ip, i * 1e-4)
    assert len(guard) <= 1000
    assert len(guard._failures) <= 1000 and len(guard._blocked) <= 1000


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.5, 100),
    burst=st.integers(1, 50),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=300),
)
def test_admitted_never_exceeds_burst_plus_rate_times_time(
    rate: float, burst: int, gaps: list[float]
) -> None:
    guard = SourceGuard(SourceLimits(invite=Bucket(rate, burst)))
    now = admitted = 0.0
    for gap in gaps:
        now += gap
        if guard.check("192.0.2.1", INVITE, "udp", now) is None:
            admitted += 1
    assert admitted <= burst + rate * now + 1e-9
