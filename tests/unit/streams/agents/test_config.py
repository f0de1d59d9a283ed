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
