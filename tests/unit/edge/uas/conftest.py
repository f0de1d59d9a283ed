"""Fixtures: a UasCore wired to fakes and a scripted phone (see tests/support/uas_harness.py)."""

from __future__ import annotations

import pytest

from tests.support.uas_harness import Edge, Phone, make_edge


@pytest.fixture
def edge() -> Edge:
    return make_edge()


@pytest.fixture
def phone(edge: Edge) -> Phone:
    return Phone(edge)
