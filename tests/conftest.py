"""Shared by every test: the developer's `SENTIRIC_*` variables do not leak into the tests."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.asyncio_dump import pytest_timeout_set_timer  # noqa: F401  (a hook: tasks on timeout)


def _machine_cache() -> Path:
    configured = os.environ.get("SENTIRIC_CACHE_HOME")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentiric"


# Read before the environment is cleaned: downloads (the Kafka jars) are fetched once per machine.
MACHINE_CACHE = _machine_cache()

for _name in [name for name in os.environ if name.upper().startswith("SENTIRIC_")]:
    del os.environ[_name]

# `timeout pytest ...` and CI cancellations send SIGTERM: handle it like Ctrl-C, so pytest still runs
# the fixture finalizers that stop the brokers and databases the tests started.
signal.signal(signal.SIGTERM, signal.default_int_handler)


@pytest.fixture(scope="session")
def machine_cache_dir() -> Path:
    """The download cache shared by every test run on this machine (`SENTIRIC_CACHE_HOME` or ~/.cache)."""
    return MACHINE_CACHE
