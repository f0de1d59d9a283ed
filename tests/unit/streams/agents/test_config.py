from __future__ import annotations

import dataclasses

from schemas.models import Prompt
from sentiric.eventlog.config_view import ConfigView
from streams.agents.config import KnowledgeStore, PromptStore
from streams.engines.knowledge import load_knowledge


def test_sample_until_the_config_topic_has_knowledge_entries_then_live_entries() -> None:
    store = KnowledgeStore()
    view = ConfigView(name="knowledge")  # the store is an index over the one config view
    view.subscribe(store.apply)
    sample = load_knowledge()
    assert list(store.entries()) == sample
    custom = dataclasses.replace(sample[0], entity_id="menu", title="the menu", answer="Pizza.")
    view.put(custom)  # the key the admin API writes: knowledgeentry:menu
    assert list(store.entries()) == [custom]
    view.apply("dialplan:default", object())  # other kinds of config are not knowledge
    assert list(store.entries()) == [custom]
    older = dataclasses.replace(custom, entity_id="older")
    view.apply("knowledge:older", older)  # the key older tools wrote
    assert list(store.entries()) == [older, custom]
    view.apply("knowledgeentry:menu", None)  # tombstones delete
    view.apply("knowledge:older", None)
    assert list(store.entries()) == sample


def test_prompt_store_books_the_configured_prompts_by_language_and_kind() -> None:
    store = PromptStore()
    view = ConfigView(name="knowledge")
    view.subscribe(store.apply)
    assert dict(store.book()) == {}
    greeting = Prompt(
        event_id="00000000-0000-0000-0000-000000000001", entity_id="tr-greeting", occurred_at=0,
        source="api", trace_id="t", uri=None, text="Buyurun.", kind="greeting", language="tr-TR",
    )  # fmt: skip
    view.put(greeting)
    book = store.book()
    assert dict(book) == {("tr", "greeting"): "Buyurun."}
    assert store.book() is book  # unchanged config: the same book (the dialog's policy is kept)
    view.apply("prompt:tr-greeting", None)
    assert dict(store.book()) == {}


def test_a_tenant_is_answered_from_its_own_knowledge_only() -> None:
    """Entries with the same question in two tenants: each tenant's calls get its own, never the other's."""
    store = KnowledgeStore()
    view = ConfigView(name="knowledge")
    view.subscribe(store.apply)
    sample = load_knowledge()
    # the sample businesses: the English shop is the default tenant, its Turkish twin the tenant ornek
    assert {e.entity_id for e in store.entries("ornek")} == {
        e.entity_id for e in sample if e.language == "tr-TR"
    }
    assert {e.language for e in store.entries("default")} == {"en-US"}
    assert store.entries("nobody") == ()
    a = dataclasses.replace(sample[0], entity_id="a-hours", answer="A: nine to five.", tenant="a")
    b = dataclasses.replace(sample[0], entity_id="b-hours", answer="B: always open.", tenant="b")
    view.put(a)
    view.put(b)
    assert list(store.entries("a")) == [a] and list(store.entries("b")) == [b]
    assert list(store.entries()) == [a, b]  # every tenant's (replay tools)
    view.apply("knowledgeentry:b-hours", None)
    assert list(store.entries("b")) == [] and list(store.entries("a")) == [a]


def test_prompt_books_per_tenant() -> None:
    store = PromptStore()
    view = ConfigView(name="knowledge")
    view.subscribe(store.apply)

    def prompt(entity_id: str, text: str, tenant: str) -> Prompt:
        return Prompt(
            event_id="00000000-0000-0000-0000-000000000002", entity_id=entity_id, occurred_at=0, source="api",
            trace_id="t", uri=None, text=text, kind="greeting", language="tr-TR", tenant=tenant,
        )  # fmt: skip

    view.put(prompt("d", "Varsayılan.", "default"))
    view.put(prompt("o", "Liman Bisiklet, buyurun.", "ornek"))
    assert dict(store.book()) == {("tr", "greeting"): "Varsayılan."}
    books = store.books()
    assert {t: dict(b) for t, b in books.items()} == {
        "ornek": {("tr", "greeting"): "Liman Bisiklet, buyurun."}
    }
    assert store.books() is books
    view.apply("prompt:o", None)
    assert dict(store.books()) == {}


def test_a_tenant_without_entries_of_its_own_keeps_its_sample_entries() -> None:
    """The English sample tenant writing its own knowledge leaves the Turkish sample tenant's alone."""
    store = KnowledgeStore()
    view = ConfigView(name="knowledge")
    view.subscribe(store.apply)
    sample = load_knowledge()
    turkish = {e.entity_id for e in sample if e.tenant == "ornek"}
    own = dataclasses.replace(sample[0], entity_id="menu", answer="Pizza.", tenant="default")
    view.put(own)
    assert list(store.entries("default")) == [own]
    assert {e.entity_id for e in store.entries("ornek")} == turkish
    view.apply("knowledgeentry:menu", None)
    assert {e.tenant for e in store.entries("default")} == {"default"} and store.entries("default") != (own,)
