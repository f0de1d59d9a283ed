"""The campaign's setting overrides are real settings of the edge: a misspelt name would leave its limit
at the default and turn the fuzz run into a test of the rate limiter."""

from __future__ import annotations

import argparse

import pytest

from bench import fuzz_edge
from sentiric.settings import Settings


def test_every_raised_protection_is_a_setting_that_accepts_its_value() -> None:
    assert fuzz_edge.unknown_settings(fuzz_edge.CAMPAIGN_PROTECTIONS) == []
    overrides = {k: v for k, v in fuzz_edge.CAMPAIGN_PROTECTIONS.items()}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    assert settings.sip_rate_invite == 1_000_000 and settings.sip_tcp_max_per_source == 100_000


def test_an_unknown_name_stops_the_campaign() -> None:
    args = argparse.Namespace(set=["sip_rate_invite_per_s=5"])
    with pytest.raises(SystemExit, match="sip_rate_invite_per_s"):
        fuzz_edge.protections(args)
    args = argparse.Namespace(set=["SIP_RATE_OPTIONS=7"])
    assert fuzz_edge.protections(args)["sip_rate_options"] == "7"
