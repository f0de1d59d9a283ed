"""Unit-test isolation: a test that configures logging (the CLI, `sentiric.logs`) does it into pytest's
captured stderr, which is closed after that test; the next test that logs would then fail writing to
it. Every unit test leaves structlog as it found it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _structlog_restored() -> Iterator[None]:
    config = structlog.get_config()
    yield
    structlog.configure(**config)
