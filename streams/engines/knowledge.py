"""The embedded dialog engine: retrieval over the knowledge base (`KnowledgeEntry` config records).

Every phrasing of every entry is a document. A caller's words and the documents go through the same
analysis: lower-case words, a synonym table that folds paraphrases onto one concept word ("cost",
"charge", "how much" → `price`; "located", "where" → `address`), stop words out, Snowball stems.
Okapi BM25 (k1 = 1.2, b = 0.75) scores each phrasing; an entry scores as its best phrasing. Below
`min_score`, or with no concept word in common, the engine says what it *can* help with instead.

Chosen over sentence embeddings because it needs no model, answers in microseconds, and finds the
paraphrases of the sample business (`tests/unit/streams/engines/test_knowledge.py`); the engine sits
behind `DialogEngine`, so an embedding retriever can replace it without touching anything else.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import snowballstemmer

from schemas.envelope import DEFAULT_TENANT
from schemas.models import KnowledgeEntry
from streams.dialog.language import primary_language
from streams.engines import turkish
from streams.engines.dialog import FALLBACK_INTENT, HANDOFF_INTENT, Reply, Turn

SAMPLE_PATH: Final = Path(__file__).with_name("sample_knowledge.json")
K1: Final = 1.2
B: Final = 0.75
DEFAULT_MIN_SCORE: Final = 1.0
MAX_INDEXES: Final = 64  # one per tenant and language in use: a few tenants must not evict each other

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")

# Paraphrases folded onto one concept word (applied to lower-cased words, before stemming).
SYNONYMS: Final[dict[str, str]] = {
    **dict.fromkeys(["open", "opening", "opens", "close", "closes", "closing", "closed"], "open"),
    **dict.fromkeys(["hours", "hour", "time", "times", "schedule", "timetable"], "hour"),
    **dict.fromkeys(["address", "location", "located", "locate", "where", "directions", "street"], "address"),
    **dict.fromkeys(["find", "reach", "get"], "find"),
    **dict.fromkeys(["shop", "store", "place", "workshop", "garage"], "shop"),
    **dict.fromkeys(
        "price prices cost costs charge charges fee fees much expensive cheap pay".split(), "price"
    ),
    **dict.fromkeys(["appointment", "appointments", "booking", "book", "reserve", "reservation"], "book"),
    **dict.fromkeys(["bye", "goodbye", "farewell", "cheers"], "bye"),
    **dict.fromkeys(["thanks", "thank", "thx"], "thank"),
    **dict.fromkeys(["repair", "repairs", "fix", "fixing", "mend"], "repair"),
    **dict.fromkeys(["bike", "bikes", "bicycle", "bicycles", "cycle"], "bike"),
    **dict.fromkeys(["weekend", "saturday", "saturdays", "sunday", "sundays"], "weekend"),
}

STOP_WORDS: Final = frozenset(
    """a an the is are am was were be been do does did i i'm me my we our you your yours it it's its
    to of in on at for with and or but so can could would will should may might please tell let know
    want like need there that that's this these those what which who how any some about just also
    hello hi hey okay ok yes no um uh well then""".split()
)


def analyze(text: str, stemmer: Any) -> list[str]:
    words = [SYNONYMS.get(w, w) for w in _WORD.findall(text.lower())]
    # snowballstemmer is untyped
    stems: list[str] = stemmer.stemWords([w for w in words if w not in STOP_WORDS])
    return stems


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Any:
    name = {"en": "english", "tr": "turkish", "de": "german", "fr": "french", "es": "spanish"}
    return snowballstemmer.stemmer(name.get(language.split("-")[0].lower(), "english"))


@dataclass(frozen=True, slots=True)
class Match:
    entry: KnowledgeEntry
    score: float
    phrasing: str


class KnowledgeIndex:
    """BM25 over the phrasings (and titles) of a set of entries."""

    def __init__(self, entries: Sequence[KnowledgeEntry], language: str = "en-US") -> None:
        self.entries = tuple(entries)
        self.language = language
        self._stemmer = _stemmer(language)
        self._turkish = primary_language(language) == "tr"
        self._docs: list[tuple[KnowledgeEntry, str, Counter[str], int]] = []
        for entry in self.entries:
            for phrasing in (*entry.phrasings, entry.title):
                terms = self._analyze(phrasing)
                if terms:
                    self._docs.append((entry, phrasing, Counter(terms), len(terms)))
        n = len(self._docs)
        self._avg_len = sum(d[3] for d in self._docs) / n if n else 1.0
        df: Counter[str] = Counter(t for d in self._docs for t in d[2])
        self._idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def _analyze(self, text: str) -> list[str]:
        return turkish.analyze(text) if self._turkish else analyze(text, self._stemmer)

    def search(self, text: str) -> list[Match]:
        """Entries by descending score (each with its best phrasing); only those sharing a term."""
        query = self._analyze(text)
        best: dict[str, Match] = {}
        for entry, phrasing, tf, length in self._docs:
            score = 0.0
            for term in set(query):
                f = tf.get(term)
                if f:
                    norm = K1 * (1 - B + B * length / self._avg_len)
                    score += self._idf[term] * f * (K1 + 1) / (f + norm)
            if score > 0 and (entry.entity_id not in best or score > best[entry.entity_id].score):
                best[entry.entity_id] = Match(entry, score, phrasing)
        return sorted(best.values(), key=lambda m: (-m.score, m.entry.entity_id))


def entries_language(entries: Sequence[KnowledgeEntry], default: str) -> str:
    """The language to analyse a knowledge base in: its entries' when they share one primary language."""
    languages = {primary_language(e.language) for e in entries}
    return entries[0].language if len(languages) == 1 else default


def fallback_text(entries: Sequence[KnowledgeEntry], language: str = "en-US") -> str:
    turkish = primary_language(language) == "tr"
    # Topics to ask about; not the way to a person, which a business without one cannot offer.
    topics = [e.title for e in entries if not e.end_conversation and e.entity_id != HANDOFF_INTENT]
    if not topics:
        if turkish:
            return "Özür dilerim, anlayamadım. Başka bir şekilde söyler misiniz?"
        return "Sorry, I didn't understand that. Could you say it another way?"
    last = " ve " if turkish else " and "
    listed = topics[0] if len(topics) == 1 else ", ".join(topics[:-1]) + last + topics[-1]
    if turkish:
        return (
            f"Özür dilerim, anlayamadım. Size {listed} konusunda yardımcı olabilirim. Ne öğrenmek istersiniz?"
        )
    return f"Sorry, I didn't catch that. I can help with {listed}. What would you like to know?"


class KnowledgeEngine:
    """DialogEngine answering from the knowledge base; stateless and deterministic."""

    name = "knowledge-base"

    def __init__(
        self, min_score: float = DEFAULT_MIN_SCORE, language: str = "en-US", *, stream: bool = True
    ) -> None:
        self.min_score = min_score
        self.language = language
        self.stream = stream
        """Hand answers out for streaming (`reply_streaming`); False: every answer is said whole."""
        self._index: KnowledgeIndex | None = None
        # One index per knowledge base seen (a call's language picks its entries: one set per language).
        self._indexes: dict[tuple[KnowledgeEntry, ...], KnowledgeIndex] = {}

    def _index_for(self, knowledge: Sequence[KnowledgeEntry]) -> KnowledgeIndex:
        entries = tuple(knowledge)
        if self._index is None or self._index.entries != entries:
            index = self._indexes.get(entries)
            if index is None:
                index = KnowledgeIndex(entries, entries_language(entries, self.language))
                self._indexes[entries] = index
                while len(self._indexes) > MAX_INDEXES:  # the oldest knowledge base goes first
                    del self._indexes[next(iter(self._indexes))]
            self._index = index
        return self._index

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[KnowledgeEntry]) -> Reply:
        matches = self._index_for(knowledge).search(text)
        if not matches or matches[0].score < self.min_score:
            return Reply(
                fallback_text(knowledge, self._index_for(knowledge).language), intent=FALLBACK_INTENT
            )
        top = matches[0].entry
        return Reply(top.answer, intent=top.entity_id, end_conversation=top.end_conversation)

    def reply_streaming(
        self,
        text: str,
        history: Sequence[Turn],
        knowledge: Sequence[KnowledgeEntry],
        on_text: Callable[[str], None],
    ) -> Reply:
        """`reply`, its text handed to `on_text` (`StreamingDialogEngine`, with `stream_replies`).
        Retrieval is instant, but a multi-sentence answer is then voiced sentence by sentence
        (`streams.agents.speech.reply_streamed`): the caller hears the first while TTS voices the rest,
        as with an LLM. A goodbye or a handoff is handed out whole: the dialog says those without
        barge-in, or before it transfers the call, which a piece already playing would not know."""
        answer = self.reply(text, history, knowledge)
        if self.stream and answer.intent != HANDOFF_INTENT and not answer.end_conversation:
            on_text(answer.text)
        return answer


def load_knowledge(path: Path = SAMPLE_PATH, *, source: str = "sample") -> list[KnowledgeEntry]:
    """Knowledge entries from a JSON file shaped like `sample_knowledge.json`."""
    data = json.loads(path.read_text())
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        KnowledgeEntry(
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"sentiric:knowledge:{e['entity_id']}"),
            entity_id=e["entity_id"],
            occurred_at=epoch,
            source=source,
            trace_id=f"knowledge:{e['entity_id']}",
            title=e["title"],
            phrasings=tuple(e["phrasings"]),
            answer=e["answer"],
            language=e.get("language", "en-US"),
            end_conversation=e.get("end_conversation", False),
            tenant=e.get("tenant", DEFAULT_TENANT),
        )
        for e in data["entries"]
    ]
