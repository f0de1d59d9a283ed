"""`sentiric edge` and the edge app refuse an implicit open default beyond loopback, in one line."""

from __future__ import annotations

import argparse

import pytest

from edge import cli
from edge.app import EdgeApp, EdgeConfigError
from sentiric.settings import Settings, get_settings


def test_sentiric_edge_refuses_to_listen_beyond_loopback_without_an_access_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SENTIRIC_SIP_HOST", "0.0.0.0")
    monkeypatch.delenv("SENTIRIC_SIP_DEFAULT_ACCESS", raising=False)
    monkeypatch.setenv("SENTIRIC_ADMIN_TOKEN", "not-the-default-" + "x" * 32)  # past the token check
    get_settings.cache_clear()
    try:
        assert cli._run(argparse.Namespace(sip_port=None, node_id=None)) == 2
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err.strip()
    assert err.startswith("sentiric edge: SIP would listen on 0.0.0.0") and "\n" not in err
    assert "SENTIRIC_SIP_DEFAULT_ACCESS" in err


async def test_the_edge_app_refuses_it_too_before_touching_the_network(tmp_path: object) -> None:
    app = EdgeApp(Settings(sip_host="0.0.0.0", kafka_bootstrap="127.0.0.1:1", home=tmp_path))
    with pytest.raises(EdgeConfigError, match="SENTIRIC_SIP_DEFAULT_ACCESS"):
        await app.start()
