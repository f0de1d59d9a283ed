"""Nothing listens beyond loopback with the default admin token."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from sentiric.exposure import ExposedDefaultSecret, check_bind, default_token_refusal, is_loopback
from sentiric.settings import Settings


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.168.1.10", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("::ffff:127.0.0.1", False),  # stays conservative: a v4-mapped socket is not a loopback bind
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_default_token_refused_only_beyond_loopback() -> None:
    default = Settings()
    assert default_token_refusal(default, {"the API": "127.0.0.1", "the edge": "localhost"}) is None
    refusal = default_token_refusal(default, {"the API": "0.0.0.0", "the edge": "127.0.0.1"})
    assert refusal is not None and "the API on 0.0.0.0" in refusal and "the edge" not in refusal
    assert "SENTIRIC_ADMIN_TOKEN" in refusal and "\n" not in refusal
    with pytest.raises(ExposedDefaultSecret, match=r"gRPC on 10\.0\.0\.5"):
        check_bind(default, "gRPC", "10.0.0.5")
    configured = Settings(admin_token=SecretStr("a-long-random-secret-0123456789"))
    assert default_token_refusal(configured, {"the API": "0.0.0.0"}) is None
    check_bind(configured, "gRPC", "0.0.0.0")
