"""Fixtures: a UasCore wired to fakes and a scripted phone (see edge.uas.testing)."""

from __future__ import annotations

import pytest

from edge.uas.testing import Edge, Phone, make_edge


@pytest.fixture
def edge() -> Edge:
    return make_edge()


@pytest.fixture
def phone(edge: Edge) -> Phone:
    return Phone(edge)
