"""Tenants in the CDR fold (issue 15): every row a call's facts write carries the call's tenant, and a
fact written before tenants existed (an old golden fixture without the field) projects into
'default'."""

import json
from dataclasses import replace
from pathlib import Path

import pytest

from projections.cdr import LogPosition, Projection
from projections.synthetic import SCENARIOS, day_of_calls
from schemas import models as m
from schemas.codec import default_codec
from schemas.samples import sample

GOLDEN = Path(__file__).resolve().parents[3] / "schemas" / "golden"
CALLS = day_of_calls(len(SCENARIOS), seed=5)


def _old_fixtures(family: str) -> list[Path]:
    """The fixtures written by schema versions without the tenant field."""
    return sorted(
        p.with_suffix(".bin")
        for p in (GOLDEN / family).glob("*.json")
        if "tenant" not in json.loads(p.read_text())
    )


def project(facts) -> Projection:
    p = Projection()
    for i, fact in enumerate(facts):
        p.apply(fact, LogPosition("calls", 0, i))
    return p


@pytest.mark.parametrize("call", CALLS[:4], ids=[c.scenario for c in CALLS[:4]])
def test_every_row_of_a_call_carries_its_tenant(call):
    p = project([replace(f, tenant="acme") for f in call.facts])
    assert p.calls[call.call_id].tenant == "acme"
    rows = [*p.turns.values(), *p.playbacks.values(), *p.dtmf.values()]
    assert all(r.tenant == "acme" for r in rows)


def test_a_default_fact_never_overrides_the_calls_tenant_in_any_order():
    call = next(c for c in CALLS if c.turns)
    facts = [replace(f, tenant="acme" if i % 2 else "default") for i, f in enumerate(call.facts)]
    for order in (facts, list(reversed(facts))):
        p = project(order)
        assert p.calls[call.call_id].tenant == "acme"
        assert {t.tenant for t in p.turns.values()} <= {"acme", "default"}


def test_kpi_windows_are_keyed_by_tenant():
    p = Projection()
    window = sample(m.KpiWindowReported)
    assert p.apply(replace(window, tenant="acme"))
    assert p.apply(replace(window, event_id=window.event_id.__class__(int=7), tenant="*"))
    assert {k[0] for k in p.kpi_windows} == {"acme", "*"}


@pytest.mark.parametrize("path", _old_fixtures("events"), ids=lambda p: p.stem)
def test_an_old_fact_without_a_tenant_projects_into_default(path: Path):
    fact = default_codec().decode(path.read_bytes())
    assert fact.tenant == "default"
    p = Projection()
    assert p.apply(fact, LogPosition("calls", 0, 0))
    assert p.calls[fact.call_id].tenant == "default"


def test_old_kpi_windows_project_into_default():
    paths = _old_fixtures("metrics")
    windows = [
        f
        for f in (default_codec().decode(p.read_bytes()) for p in paths)
        if isinstance(f, m.KpiWindowReported)
    ]
    assert windows
    p = Projection()
    for w in windows:
        p.apply(w)
    assert {k[0] for k in p.kpi_windows} == {"default"}
