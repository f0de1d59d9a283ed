"""Which tenant a request acts in, and the ownership checks of config records (issue 15)."""

from __future__ import annotations

import dataclasses

import pytest
from starlette.requests import Request

from projections.api.errors import ApiError
from projections.api.tenancy import Tenancy, acting_tenant, claim, owned, same_tenant
from schemas import models as m
from schemas.samples import sample
from sentiric.auth import Principal
from sentiric.eventlog.config_view import ConfigView

TENANT_ADMIN = Principal("t1", "acme-ops", frozenset({"admin"}), "bearer", "acme")
PLATFORM = Principal("bootstrap", "root", frozenset({"read", "admin", "platform"}), "bearer")


def request(query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "query_string": query.encode(), "headers": raw}
    )


def test_a_tenant_principal_acts_in_its_own_tenant_only() -> None:
    assert acting_tenant(request(), TENANT_ADMIN) == "acme"
    assert acting_tenant(request("tenant=acme"), TENANT_ADMIN) == "acme"
    for asked in (request("tenant=globex"), request(headers={"X-Sentiric-Tenant": "globex"})):
        with pytest.raises(ApiError) as refused:
            acting_tenant(asked, TENANT_ADMIN)
        assert refused.value.status == 403
    # the platform's tenant picker cookie is not a tenant principal's business
    assert acting_tenant(request(headers={"Cookie": "sentiric_tenant=globex"}), TENANT_ADMIN) == "acme"


def test_a_platform_principal_acts_in_any_tenant_or_all() -> None:
    assert acting_tenant(request(), PLATFORM) is None
    assert acting_tenant(request("tenant=globex"), PLATFORM) == "globex"
    assert acting_tenant(request(headers={"X-Sentiric-Tenant": "acme"}), PLATFORM) == "acme"
    assert acting_tenant(request(headers={"Cookie": "sentiric_tenant=acme"}), PLATFORM) == "acme"
    assert acting_tenant(request(headers={"Cookie": "sentiric_tenant=Not%20One"}), PLATFORM) is None
    with pytest.raises(ApiError) as invalid:
        acting_tenant(request("tenant=../x"), PLATFORM)
    assert invalid.value.status == 422


def test_records_of_another_tenant_are_not_found_and_their_ids_not_taken() -> None:
    view = ConfigView()
    theirs = dataclasses.replace(sample(m.KnowledgeEntry), entity_id="kb-1", tenant="globex")
    view.put(theirs)
    acme = Tenancy(TENANT_ADMIN, "acme")
    with pytest.raises(ApiError) as hidden:
        owned(view, m.KnowledgeEntry, "kb-1", acme)
    assert hidden.value.status == 404
    with pytest.raises(ApiError) as taken:
        claim(view, dataclasses.replace(theirs, tenant="default"), acme)
    assert taken.value.status == 409
    assert claim(view, dataclasses.replace(theirs, entity_id="kb-2"), acme).tenant == "acme"
    everyone = Tenancy(PLATFORM, None)
    assert owned(view, m.KnowledgeEntry, "kb-1", everyone) is theirs
    assert claim(view, dataclasses.replace(theirs, tenant="default"), everyone).tenant == "globex"  # kept
    assert claim(view, dataclasses.replace(theirs, entity_id="kb-3"), everyone).tenant == "default"
    assert acme.visible(view.all(m.KnowledgeEntry)) == []


def test_references_stay_within_the_tenant() -> None:
    view = ConfigView()
    view.put(dataclasses.replace(sample(m.Dialplan), entity_id="night", tenant="globex"))
    with pytest.raises(ApiError) as refused:
        same_tenant(view, m.Dialplan, ["night"], "acme", "out_of_hours")
    assert refused.value.status == 422
    same_tenant(view, m.Dialplan, ["night"], "globex", "out_of_hours")
    same_tenant(view, m.Dialplan, ["not-yet-written"], "acme", "out_of_hours")
