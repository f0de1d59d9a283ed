"""The knowledge base as this worker sees it: an index over the compacted `sentiric.config` topic.

Every worker needs every entry, so the topic is read into the one `ConfigView` type every process
uses (`sentiric.eventlog.config_view`: no consumer group, all partitions, from the beginning — not a
Faust agent, whose group would split them), and `KnowledgeStore` keeps the `knowledge:<entity_id>`
records of it: every `KnowledgeEntry`, under whatever key it came (the API writes
`knowledgeentry:<entity_id>`, `producer.record_key`; older tools wrote `knowledge:<entity_id>`); a
tombstone deletes. Until the topic holds any knowledge entry, the entries of
`knowledge_file` (default: the sample business) are used. A record that does not decode, or whose
application raises, is set aside (logged with its offset, counted, dead-lettered) and the view goes on;
its read loop restarts itself after a broker error, resuming after the last record it handled.

`PromptStore` keeps the `Prompt` records of the same view: the texts the dialog says by itself, by
tenant, language and kind (`streams.dialog.prompts`); the dialog agent's policy carries its current
books. Knowledge and prompts are per tenant: a call uses its own tenant's records only (its facts name
it), then the code defaults in its language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from schemas.envelope import DEFAULT_TENANT
from schemas.models import KnowledgeEntry, Prompt
from sentiric.eventlog.config_view import ConfigView
from sentiric.eventlog.consumer import DeadLetters
from sentiric.eventlog.topics import CONFIG
from streams.dialog.prompts import EMPTY_BOOK, PromptBook, book_of
from streams.engines.knowledge import SAMPLE_PATH, load_knowledge


class KnowledgeStore:
    def __init__(self, fallback_file: Path | None = None) -> None:
        self._fallback = tuple(load_knowledge(fallback_file or SAMPLE_PATH))
        self._entries: dict[str, KnowledgeEntry] = {}  # by config key
        self._snapshot: tuple[KnowledgeEntry, ...] | None = None
        self._by_tenant: dict[str, tuple[KnowledgeEntry, ...]] = {}  # of the snapshot

    def apply(self, key: str, record: Any | None) -> None:
        """A `ConfigView` listener: one decoded config record (None = tombstone) under its key."""
        if isinstance(record, KnowledgeEntry):
            self._entries[key] = record
        elif self._entries.pop(key, None) is None:  # a tombstone, or another kind of config
            return
        self._snapshot = None

    def entries(self, tenant: str | None = None) -> Sequence[KnowledgeEntry]:
        """The entries (``tenant``'s only, when given: a call is answered from its tenant's knowledge
        alone, whatever another tenant wrote). The file's entries stand in per tenant: a tenant that
        has written none of its own keeps its sample entries (the ``default`` and ``ornek`` sample
        businesses), whatever the other tenants wrote."""
        if self._snapshot is None:
            live = tuple(self._entries[k] for k in sorted(self._entries))
            self._snapshot = live or self._fallback
            self._by_tenant = {}
        if tenant is None:
            return self._snapshot
        own = self._by_tenant.get(tenant)
        if own is None:
            own = tuple(e for e in self._snapshot if e.tenant == tenant)
            if not own:
                own = tuple(e for e in self._fallback if e.tenant == tenant)
            self._by_tenant[tenant] = own
        return own


class PromptStore:
    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}  # by config key
        self._book: PromptBook | None = EMPTY_BOOK
        self._books: Mapping[str, PromptBook] | None = MappingProxyType({})

    def apply(self, key: str, record: Any | None) -> None:
        """A `ConfigView` listener, as `KnowledgeStore.apply`."""
        if isinstance(record, Prompt):
            self._prompts[key] = record
        elif self._prompts.pop(key, None) is None:
            return
        self._book = self._books = None

    def book(self) -> PromptBook:
        """The default tenant's prompts."""
        if self._book is None:
            self._book = book_of(p for p in self._prompts.values() if p.tenant == DEFAULT_TENANT)
        return self._book

    def books(self) -> Mapping[str, PromptBook]:
        """Every other tenant's prompts, by tenant (a call hears its own tenant's only)."""
        if self._books is None:
            tenants = sorted({p.tenant for p in self._prompts.values()} - {DEFAULT_TENANT})
            self._books = MappingProxyType(
                {t: book_of(p for p in self._prompts.values() if p.tenant == t) for t in tenants}
            )
        return self._books


async def follow_config(
    store: KnowledgeStore,
    *,
    prompts: PromptStore | None = None,
    dead_letters: DeadLetters | None = None,
    also: Sequence[Callable[[str, Any | None], None]] = (),
    **client: Any,
) -> None:
    """Keep `store` (and `prompts`, and the listeners `also`, e.g. the actions) current with the config
    topic until cancelled. `client`: `client_options(settings)`."""
    view = ConfigView(name="knowledge")
    view.subscribe(store.apply)
    if prompts is not None:
        view.subscribe(prompts.apply)
    for listener in also:
        view.subscribe(listener)
    await view.follow(CONFIG, dead_letters=dead_letters, **client)
