"""CallFacts: the UAS core's way out for facts; a sink that refuses a fact never stops a call."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from edge import call_facts as cf
from edge.facts import FactRecorder, ListPublisher
from edge.uas.call_facts import CallFacts
from tests.support.uas_harness import Phone, make_edge, statuses


def test_a_fact_goes_to_the_sink_stamped() -> None:
    publisher = ListPublisher()
    CallFacts(FactRecorder(publisher, "edge-test")).record(cf.call_cancelled("c1"))
    (record,) = publisher.records
    assert record.call_id == "c1" and record.seq == 1 and record.reason == "caller_cancel"


class RefusingSink:
    def record(self, fact: Any) -> Any:
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
