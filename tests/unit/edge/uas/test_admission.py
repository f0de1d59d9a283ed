"""Admission by dialog worker: an agent call is answered only when a worker can serve it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from edge.uas.dialplan import Plan
from tests.support.uas_harness import Phone, make_edge, responses, statuses


@dataclass
class FakeWorkers:
    """Serves the call ids listed (or nothing); draws ids from a counter."""

    served: set[str] = field(default_factory=set)
    reason: str = "no_worker"
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def refusal(self, call_id: str) -> str | None:
        return None if call_id in self.served else self.reason

    def draw(self) -> str:
        return f"call-{next(self.counter)}"


def test_no_worker_gives_503_with_retry_after_and_no_port() -> None:
    edge = make_edge(workers=FakeWorkers())
    out = Phone(edge).invite(0.0)
    assert statuses(out) == [503]
    assert responses(out)[0].header("retry-after") == "5"
    assert edge.names() == ["CallInviteReceived", "DialplanResolved", "CallRejected", "CallEnded"]
    rejected = edge.facts()[2]
    assert (rejected.sip_status, rejected.reason, rejected.stage) == (503, "no_worker", "overload")
    assert edge.pool.available(0.0) == 5  # no port was taken


def test_a_served_call_is_answered_with_the_drawn_id() -> None:
    workers = FakeWorkers(served={"call-0"})
    edge = make_edge(workers=workers)
    out = Phone(edge).invite(0.0)
    assert statuses(out) == [200]
    assert edge.call_id == "call-0"
    assert "CallDegraded" not in edge.names()


def test_the_worker_check_comes_after_the_access_check() -> None:
    edge = make_edge(workers=FakeWorkers())
    edge.directory.plans.append(Plan("locked", "*", "agent", access="trunks_only"))
    assert statuses(Phone(edge).invite(0.0)) == [403]  # a scanner learns nothing about the workers
    edge.directory.plans[0] = Plan("auth", "*", "agent", access="digest_required")
    assert statuses(Phone(edge).invite(1.0)) == [401]


def test_calls_that_need_no_worker_are_answered_without_one() -> None:
    edge = make_edge(workers=FakeWorkers())
    edge.directory.plans.append(Plan("ivr", "*", "prompt_hangup", prompt_uri="file:///x.wav"))
    assert statuses(Phone(edge).invite(0.0)) == [200]


def test_busy_prompt_answers_and_records_why() -> None:
    edge = make_edge(workers=FakeWorkers(reason="worker_behind"))
    edge.directory.plans.append(Plan("busy", "*", "agent", busy_action="busy_prompt"))
    phone = Phone(edge)
    assert statuses(phone.invite(0.0)) == [200]
    names = edge.names()
    assert names[names.index("CallAnswered") + 1] == "CallDegraded"
    degraded = edge.facts()[names.index("CallDegraded")]
    assert (degraded.reason, degraded.action, degraded.waited_ms) == ("worker_behind", "busy_prompt", 0.0)


def test_without_a_worker_check_every_call_is_answered() -> None:
    edge = make_edge()
    assert statuses(Phone(edge).invite(0.0)) == [200]
