from __future__ import annotations

import dataclasses

from schemas.codec import encode
from streams.agents.config import KnowledgeStore
from streams.engines.knowledge import load_knowledge


def test_sample_until_the_config_topic_has_entries_then_live_entries() -> None:
    store = KnowledgeStore()
    sample = load_knowledge()
    assert list(store.entries()) == sample
    custom = dataclasses.replace(sample[0], entity_id="menu", title="the menu", answer="Pizza.")
    store.apply(b"knowledge:menu", encode(custom))
    assert list(store.entries()) == [custom]
    store.apply(b"dialplan:default", encode(custom))  # other kinds of config are not knowledge
    store.apply(b"knowledge:broken", b"\x00junk")
    assert list(store.entries()) == [custom]
    store.apply(b"knowledge:menu", None)  # tombstone
    assert list(store.entries()) == sample
