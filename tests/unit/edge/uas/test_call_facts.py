"""CallFacts: one typed method per fact model; a sink that refuses a fact never stops a call."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from prometheus_client import REGISTRY

from edge.facts import FactRecorder, ListPublisher
from edge.uas.call_facts import CallFacts
from schemas import models as f
from tests.support.uas_harness import Phone, make_edge, statuses

MODELS = {
    "invite_received": f.CallInviteReceived,
    "dialplan_resolved": f.DialplanResolved,
    "media_port_allocated": f.MediaPortAllocated,
    "call_answered": f.CallAnswered,
    "call_degraded": f.CallDegraded,
    "call_established": f.CallEstablished,
    "call_cancelled": f.CallCancelled,
    "call_rejected": f.CallRejected,
    "call_ended": f.CallEnded,
    "media_port_released": f.MediaPortReleased,
    "call_transferred": f.CallTransferred,
    "dtmf_received": f.DtmfReceived,
    "call_media_updated": f.CallMediaUpdated,
}


def test_every_fact_method_names_fields_of_its_model_and_builds_it() -> None:
    methods = {
        name
        for name, _ in inspect.getmembers(CallFacts, inspect.isfunction)
        if not name.startswith("_") and name != "forget"
    }
    assert methods == set(MODELS)
    publisher = ListPublisher()
    facts = CallFacts(FactRecorder(publisher, "edge-test"))
    for name, model in MODELS.items():
        params = list(inspect.signature(getattr(CallFacts, name)).parameters.values())[2:]  # self, call_id
        fields = {x.name for x in dataclasses.fields(model)}
        assert {p.name for p in params} <= fields, name
        kwargs = {p.name: _sample(p.annotation) for p in params if p.default is inspect.Parameter.empty}
        getattr(facts, name)("c1", **kwargs)
        record = publisher.records[-1]
        assert type(record) is model and record.call_id == "c1"
        assert all(getattr(record, k) == v for k, v in kwargs.items()), name


def _sample(annotation: Any) -> Any:
    text = str(annotation)
    if text.startswith("bytes"):
        return b"INVITE"
    if text.startswith("int"):
        return 7
    if text.startswith("float"):
        return 1.5
    if text.startswith("bool"):
        return True
    return "x"


def test_a_transfer_without_a_status_records_none() -> None:
    publisher = ListPublisher()
    CallFacts(FactRecorder(publisher, "edge-test")).call_transferred(
        "c1", target_uri="sip:h@x", status="requested"
    )
    assert publisher.records[-1].sip_status is None


class RefusingSink:
    def emit(self, call_id: str, model: type[Any], **fields: Any) -> Any:
        raise RuntimeError("buffer full")


def test_a_refused_fact_is_counted_and_the_call_goes_on() -> None:
    edge = make_edge()
    assert edge.core.setup.facts is edge.core.teardown.facts is edge.core.in_dialog.facts  # one, shared
    edge.core.setup.facts.sink = RefusingSink()
    before = REGISTRY.get_sample_value("sentiric_sip_fact_errors_total") or 0.0
    phone = Phone(edge)
    assert statuses(phone.invite(0.0)) == [200]
    phone.ack(0.01)
    assert statuses(phone.send(phone.request("BYE"), 1.0)) == [200]
    after = REGISTRY.get_sample_value("sentiric_sip_fact_errors_total") or 0.0
    assert after - before >= 5  # received, resolved, port, answered, established, ended...
    assert edge.core.active_calls == 0 and edge.publisher.records == []
