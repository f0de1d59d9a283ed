"""Nothing listens beyond loopback with the default admin token: `sentiric api`, `sentiric up` and
`sentiric edge` bound beyond loopback with `SENTIRIC_ADMIN_TOKEN` unset exit at once, non-zero, with one
clear line — before starting a broker, a database or a socket (the home directory stays empty)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sentiric.net import free_port

ROOT = Path(__file__).parents[3]


def run(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    home = tmp_path / "home"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SENTIRIC_")}
    return subprocess.run(
        [sys.executable, "-m", "sentiric.cli", *argv],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={**clean, "SENTIRIC_HOME": str(home), "SENTIRIC_KAFKA_PORT": str(free_port()),
             "SENTIRIC_POSTGRES_PORT": str(free_port()), **env},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "env", "names"),
    [
        (("api",), {"SENTIRIC_API_HOST": "0.0.0.0"}, "the API on 0.0.0.0"),
        (("api", "--host", "192.0.2.10"), {}, "the API on 192.0.2.10"),
        (("up",), {"SENTIRIC_API_HOST": "0.0.0.0"}, "the API on 0.0.0.0"),
        (("up", "--only", "edge"), {"SENTIRIC_SIP_HOST": "0.0.0.0"}, "/ws and gRPC on 0.0.0.0"),
        (("edge",), {"SENTIRIC_SIP_HOST": "0.0.0.0"}, "/ws and gRPC on 0.0.0.0"),
    ],
)
def test_default_token_refused_beyond_loopback(tmp_path: Path, argv, env, names) -> None:
    result = run(tmp_path, *argv, **env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"sentiric {argv[0]}: refusing to listen beyond loopback" in lines[0] and names in lines[0]
    assert "SENTIRIC_ADMIN_TOKEN" in lines[0]
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").iterdir())
