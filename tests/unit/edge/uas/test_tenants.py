"""Tenants at the edge: which tenant an INVITE is (`edge.uas.tenants.route`), and the proof that every
record of a call — the edge's facts and the dialog's records and commands — carries that tenant."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from edge import call_facts as cf
from edge.uas.callerid import CallerBook
from edge.uas.dialplan import DEFAULT_PLAN, Plan
from edge.uas.tenants import Tenant, host_of, route
from schemas import models as m
from sentiric.sample_business import SAMPLE_TENANT
from streams.agents import actions, speech
from streams.dialog.decisions import Record, Send
from streams.dialog.machine import decide, new_state
from streams.dialog.script import CallScript
from streams.dialog.state import Phase
from tests.support.uas_harness import Phone, make_edge, statuses
from tests.unit.edge.uas.test_outbound import originate, reply, start

ACME = Tenant("acme", "Acme", domains=("acme.example",), language="de-DE")
BETA = Tenant("beta", "Beta", domains=("beta.example",), language="fr-FR")
TENANTS = {"acme": ACME, "beta": BETA}


def plan(dialplan_id: str, pattern: str, tenant: str = "default", **kw: Any) -> Plan:
    return Plan(dialplan_id=dialplan_id, pattern=pattern, action="agent", tenant=tenant, **kw)


def test_a_domain_picks_the_tenant_and_only_its_plans_are_eligible() -> None:
    plans = [plan("all", "*"), plan("acme-desk", "1000", "acme"), plan("beta-desk", "1000", "beta")]
    r = route(plans, TENANTS, "ACME.example:5060", "1000")
    assert (r.tenant, r.plan.dialplan_id) == ("acme", "acme-desk")
    assert [p.dialplan_id for p in r.plans] == ["acme-desk"]
    # the tenant has no plan for the number: the default agent plan, in the tenant's language
    r = route(plans, TENANTS, "beta.example", "2222")
    assert (r.tenant, r.plan.action, r.plan.language) == ("beta", "agent", "fr-FR")
    assert r.plan.dialplan_id == DEFAULT_PLAN.dialplan_id


def test_without_a_domain_the_plan_of_the_number_decides_the_tenant() -> None:
    plans = [plan("all", "*"), plan("acme-desk", "1000", "acme"), plan("beta-sales", "2*", "beta")]
    assert route(plans, TENANTS, "192.0.2.1", "1000").tenant == "acme"
    assert route(plans, TENANTS, "192.0.2.1", "2345").tenant == "beta"
    assert route(plans, TENANTS, "192.0.2.1", "9999").tenant == "default"
    assert route([], TENANTS, "192.0.2.1", "9999").plan is DEFAULT_PLAN
    # the sample business while no dialplan is configured: 2000 is the Turkish tenant's
    sample = route([], {}, "192.0.2.1", "2000")
    assert (sample.tenant, sample.plan.language) == (SAMPLE_TENANT, "tr-TR")


def test_two_tenants_on_one_number_the_default_tenant_first_then_the_smallest_id() -> None:
    same = [plan("b", "1000", "beta"), plan("a", "1000", "acme"), plan("d", "1000", "default")]
    assert route(same, TENANTS, "", "1000").tenant == "default"
    assert route(same[:2], TENANTS, "", "1000").tenant == "acme"
    # ...but a more specific (or higher priority) plan wins whoever's it is
    assert route([plan("d", "*"), plan("b", "1000", "beta")], TENANTS, "", "1000").tenant == "beta"


def test_two_tenants_claiming_one_domain() -> None:
    clash = {**TENANTS, "beta": Tenant("beta", "Beta", domains=("acme.example",))}
    assert route([], clash, "acme.example", "1").tenant == "acme"


def test_host_forms() -> None:
    assert host_of("Acme.Example.") == "acme.example"
    assert host_of("acme.example:5080") == "acme.example"
    assert host_of("[2001:db8::1]:5060") == "2001:db8::1"
    assert host_of("2001:db8::1") == "2001:db8::1"
    rec = m.Tenant(
        event_id=uuid.uuid4(), entity_id="acme", occurred_at=datetime.now(UTC), source="api", trace_id="t",
        name="Acme", domains=["ACME.example", " "], language="de-DE", enabled=False,
    )  # fmt: skip
    assert Tenant.from_record(rec) == Tenant("acme", "Acme", ("acme.example",), "de-DE", enabled=False)


def test_callers_are_looked_up_in_the_calls_tenant_only() -> None:
    book = CallerBook()
    for entity_id, tenant, name in (("c1", "acme", "Anna"), ("c2", "beta", "Bert")):
        book.apply("contact", entity_id, m.Contact(
            event_id=uuid.uuid4(), entity_id=entity_id, occurred_at=datetime.now(UTC), source="api",
            trace_id="t", numbers=["+49 30 1234"], name=name, tenant=tenant,
        ))  # fmt: skip
    assert book.lookup("+49301234", "beta").name == "Bert"  # type: ignore[union-attr]
    assert book.lookup("+49301234", "acme").name == "Anna"  # type: ignore[union-attr]
    assert book.lookup("+49301234", "default") is None


def test_a_disabled_tenant_is_refused_with_403_and_call_rejected() -> None:
    edge = make_edge()
    edge.directory.tenant_records["acme"] = Tenant("acme", "Acme", ("acme.example",), enabled=False)
    phone = Phone(edge)
    assert statuses(phone.invite(0.0, uri="sip:1000@acme.example")) == [403]
    facts = edge.facts(edge.call_id)
    assert [type(f).__name__ for f in facts] == ["CallInviteReceived", "CallRejected", "CallEnded"]
    assert facts[1].reason == "tenant_disabled" and facts[1].sip_status == 403
    assert {f.tenant for f in edge.facts(edge.call_id, ladder=True)} == {"acme"}


def _dialog(facts: list[Any], state: Any) -> tuple[Any, list[Any]]:
    """The reducer over ``facts``; the records and commands it made."""
    made: list[Any] = []
    for fact in facts:
        state, decisions = decide(state, fact)
        made += [d.fact for d in decisions if isinstance(d, Record)]
        made += [d.command for d in decisions if isinstance(d, Send)]
    return state, made


def test_every_record_of_a_call_carries_its_tenant() -> None:
    """A scripted SIP call to a tenant's domain through the edge's core and recorder (SIP ladder, setup,
    media and DTMF facts, the end), then the dialog reducer and the speech workers over its facts:
    every fact and command of the call names the tenant."""
    edge = make_edge()
    edge.directory.tenant_records["acme"] = ACME
    edge.directory.plans.append(plan("acme-desk", "1000", "acme", language="de-DE"))
    phone = Phone(edge)
    phone.invite(0.0, uri="sip:1000@acme.example")
    call_id = edge.call_id
    phone.ack(0.01)
    recorder = edge.core.facts.sink  # the media side records through the same recorder
    recorder.record(cf.dtmf_received(call_id, digit="5", duration_ms=80, method="rfc4733"))
    recorder.record(cf.utterance_captured(call_id, utterance_id="u1", sample_rate=8000, pcm=b"\0\0" * 80,
                                          start_ms=0, end_ms=10, text="hello"))  # fmt: skip
    edge_facts = edge.facts(call_id, ladder=True)
    names = {type(f).__name__ for f in edge_facts}
    assert {"CallInviteReceived", "DialplanResolved", "CallAnswered", "CallEstablished"} <= names
    assert {"SipMessageObserved", "DtmfReceived", "UtteranceCaptured"} <= names

    # the dialog: greeting, a turn answered by the speech workers, the caller's goodbye, the end
    state, made = _dialog([f for f in edge_facts if type(f) is not m.SipMessageObserved], new_state(call_id))
    assert state.tenant == "acme" and state.phase is not Phase.SETUP
    script = CallScript(call_id, edge=edge.core.facts.sink.node_id, tenant="acme")
    heard = speech.transcribe(edge_facts[-1], _NoStt(), "de-DE")
    answer = speech.reply(heard, _Echo(), [], [])
    voiced = speech.synthesize(answer, _Silence(), "de-DE")
    done = actions.reply(heard, "ok", "done", 1.0)
    tail = [heard, answer, voiced, script.fact(m.PlaybackFinished, playback_id=answer.reply_id),
            script.fact(m.DtmfReceived, digit="0")]  # fmt: skip
    state, more = _dialog(tail, state)
    made += more
    timers = [r for r in made if isinstance(r, m.DialogStateChanged)]
    assert timers and any(isinstance(r, m.Hangup | m.PlayAudio) for r in made)
    phone.send(phone.request("BYE"), 5.0)
    edge.core.media_closed(call_id, 5.1)
    everything = [*edge.facts(call_id, ladder=True), *made, heard, answer, voiced, done]
    assert {"CallEnded", "MediaPortReleased"} <= {type(f).__name__ for f in everything}
    assert {(type(f).__name__, f.tenant) for f in everything if f.tenant != "acme"} == set()


def test_an_outbound_call_runs_in_its_commands_tenant() -> None:
    edge = make_edge()
    edge.directory.plans += [plan("sales", "*", "acme", language="de-DE"), plan("sales2", "*", "beta")]
    invite = start(edge, originate(tenant="acme", dialplan_id="sales"))
    reply(edge, invite, 486, 1.0)
    facts = edge.facts(ladder=True)
    assert facts and {f.tenant for f in facts} == {"acme"}
    resolved = next(f for f in facts if isinstance(f, m.DialplanResolved))
    assert (resolved.dialplan_id, resolved.language) == ("sales", "de-DE")
    # another tenant's dialplan cannot be named
    edge = make_edge()
    edge.directory.plans.append(plan("sales", "*", "acme", language="de-DE"))
    start(edge, originate(tenant="beta", dialplan_id="sales"))
    resolved = next(f for f in edge.facts() if isinstance(f, m.DialplanResolved))
    assert resolved.dialplan_id != "sales" and resolved.tenant == "beta"


class _NoStt:
    name = "none"

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Any:
        raise AssertionError("typed text needs no STT")


class _Echo:
    name = "echo"

    def reply(self, text: str, history: Any, knowledge: Any) -> Any:
        from streams.engines.dialog import Reply

        return Reply(text, intent="echo")


class _Silence:
    name = "silence"

    def synthesize(self, text: str, language: str) -> Any:
        from streams.engines.tts import Speech

        return Speech(b"\0\0" * 1600, 16000)


def test_a_web_call_is_routed_by_its_number_and_a_disabled_tenant_refuses() -> None:
    from edge.facts import FactRecorder, ListPublisher
    from edge.uas.directory import StaticDirectory
    from edge.ws.gateway import WebGateway

    directory = StaticDirectory([plan("a-desk", "7101", "acme")], tenant_records={"acme": ACME})
    gateway = WebGateway(FactRecorder(ListPublisher(), "edge-test"), directory=directory)
    got = gateway.plan_for("7101")
    assert (got.tenant, got.action) == ("acme", "agent")
    assert gateway.plan_for("9999").tenant == "default"
    directory.tenant_records["acme"] = Tenant("acme", enabled=False)
    refused = gateway.plan_for("7101")
    assert (refused.tenant, refused.action, refused.reject_status) == ("acme", "reject", 403)


def test_digest_users_of_another_tenant_are_unknown() -> None:
    from edge.sip.digest import DigestAuthenticator
    from edge.uas.directory import DigestGate, StaticDirectory, UserCredentials

    directory = StaticDirectory(
        users={("alice", "sentiric"): UserCredentials("alice", "sentiric", "m", "s", True, "acme")}
    )
    gate = DigestGate(DigestAuthenticator("sentiric", b"k" * 32), directory)
    phone = Phone(make_edge())
    auth = 'Digest username="alice", realm="sentiric", nonce="x", uri="sip:1000@192.0.2.1", response="0"'
    req = phone.request("INVITE", headers=[("Authorization", auth)])
    assert gate.check(req, 0.0, "beta").reason == "unknown_user"
    assert gate.check(req, 0.0, "acme").reason != "unknown_user"  # found: its (wrong) answer is judged


def test_a_register_to_a_tenants_domain_admits_only_its_users() -> None:
    from tests.support.uas_harness import responses
    from tests.unit.edge.uas.test_core import _add_user, _digest

    def register(edge: Any) -> list[int]:
        phone = Phone(edge)
        first = phone.send(phone.request("REGISTER", uri="sip:192.0.2.1", headers=[("Expires", "600")]), 0.0)
        challenge = responses(first)[0].get_headers("www-authenticate")[1].value
        retry = phone.request("REGISTER", uri="sip:192.0.2.1", headers=[("Expires", "600")])
        auth = _digest(edge, challenge, retry, "alice", "secret")
        raw = bytes(retry).replace(b"To: <sip:1000@", b"To: <sip:alice@")
        raw = raw.replace(b"Content-Length: 0", f"Authorization: {auth}\r\nContent-Length: 0".encode())
        return statuses(phone.send(raw, 1.0))

    edge = make_edge()
    _add_user(edge)  # a user of the default tenant
    edge.directory.tenant_records["acme"] = Tenant("acme", domains=("192.0.2.1",))
    assert register(edge) == [403]  # the host is acme's: alice is not one of its users
    del edge.directory.tenant_records["acme"]
    assert register(edge) == [200]


def test_a_tenants_token_calls_only_its_tenants_numbers_over_ws() -> None:
    from types import SimpleNamespace

    from edge.ws.server import may_call

    assert may_call(SimpleNamespace(tenant="acme", platform=False), "acme")
    assert not may_call(SimpleNamespace(tenant="acme", platform=False), "ornek")
    assert may_call(SimpleNamespace(tenant="default", platform=True), "ornek")  # the platform admin
    assert may_call(SimpleNamespace(name="no tenant field"), "ornek")  # principals before tenants
