"""Trunks and access modes: matching, the decision table, and the exposure check at start."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.media.rtp.source_policy import parse_networks
from edge.uas.access import (
    ACCESS_MODES,
    Trunk,
    TrunkSet,
    best_trunk,
    decide,
    default_access,
    effective_access,
    exposure_error,
    is_loopback_host,
)


def trunk(tid: str, *cidrs: str, enabled: bool = True, anywhere: bool = False) -> Trunk:
    return Trunk(tid, tid, parse_networks(cidrs), anywhere, enabled)


def test_most_specific_range_wins_then_the_id() -> None:
    trunks = [trunk("b-wide", "10.0.0.0/8"), trunk("a-narrow", "10.1.0.0/16"), trunk("c-same", "10.1.0.0/16")]
    assert best_trunk(trunks, "10.1.2.3").trunk_id == "a-narrow"  # type: ignore[union-attr]
    assert best_trunk(trunks, "10.2.0.1").trunk_id == "b-wide"  # type: ignore[union-attr]
    assert best_trunk(trunks, "11.0.0.1") is None
    assert best_trunk(trunks, "garbage") is None
    assert best_trunk([trunk("v6", "2001:db8::/32")], "10.0.0.1") is None  # no family mix-up


def test_disabled_and_empty_trunks_never_match() -> None:
    assert best_trunk([trunk("off", "0.0.0.0/0", enabled=False)], "192.0.2.1") is None
    assert TrunkSet([trunk("off", "0.0.0.0/0", enabled=False), trunk("none")]).match("192.0.2.1") is None


def test_trunk_set_caches_and_stays_bounded() -> None:
    ts = TrunkSet([trunk("t", "192.0.2.0/24")])
    for i in range(5000):
        ts.match(f"198.51.{i // 256}.{i % 256}")
    assert len(ts._cache) <= 4096
    assert ts.match("192.0.2.9") is ts.match("192.0.2.9") is ts.trunks[0]


@given(st.ip_addresses(v=4))
def test_trunk_set_agrees_with_best_trunk(ip: object) -> None:
    trunks = [trunk("a", "10.0.0.0/8", "192.0.2.0/24"), trunk("b", "10.0.0.0/16"), trunk("c", "0.0.0.0/1")]
    assert TrunkSet(trunks).match(str(ip)) == best_trunk(trunks, str(ip))


def test_effective_access_explicit_then_legacy_flag_then_default() -> None:
    assert effective_access("trunks_only", True, "open") == "trunks_only"
    assert effective_access(None, True, "open") == "digest_required"  # old records with require_auth
    assert effective_access(None, False, "trunks_only") == "trunks_only"
    assert effective_access("bogus", False, "open") == "open"


@pytest.mark.parametrize(
    ("access", "is_trunk", "require_auth", "expected"),
    [
        ("open", False, False, "allow"),
        ("open", False, True, "challenge"),  # the edge-wide sip_require_auth
        ("digest_required", False, False, "challenge"),
        ("trunks_only", False, False, "forbid"),
        ("trunks_only", False, True, "forbid"),
        ("open", True, True, "allow"),
        ("digest_required", True, False, "allow"),  # a trunk bypasses digest
        ("trunks_only", True, False, "allow"),
    ],
)
def test_decision_table(access: str, is_trunk: bool, require_auth: bool, expected: str) -> None:
    t = trunk("t", "192.0.2.0/24") if is_trunk else None
    assert decide(access, trunk=t, require_auth=require_auth) == expected  # type: ignore[arg-type]


def test_loopback_hosts() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("127.8.9.10") and is_loopback_host("::1")
    assert is_loopback_host("localhost")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("::") and not is_loopback_host("10.0.0.1")
    assert not is_loopback_host("sip.example.com")


def test_open_is_refused_as_the_implicit_default_beyond_loopback() -> None:
    assert exposure_error(None, "127.0.0.1") is None and default_access(None, "127.0.0.1") == "open"
    message = exposure_error(None, "0.0.0.0")
    assert message is not None and "SENTIRIC_SIP_DEFAULT_ACCESS" in message and "\n" not in message
    with pytest.raises(ValueError):
        default_access(None, "0.0.0.0")
    for mode in ACCESS_MODES:  # said explicitly, any mode goes, open included
        assert exposure_error(mode, "0.0.0.0") is None and default_access(mode, "0.0.0.0") == mode
    assert exposure_error("everyone", "127.0.0.1") is not None
