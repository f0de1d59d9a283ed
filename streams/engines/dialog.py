"""The dialog engine: the plug-in seam that answers a caller's words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, runtime_checkable

from schemas.models import KnowledgeEntry

HANDOFF_INTENT: Final = "handoff"
"""The intent of a reply that hands the caller to a person (the knowledge entry with this id, or an
engine's own decision): the dialog says the reply, then transfers the call to the dialplan's target."""
FALLBACK_INTENT: Final = "fallback"
"""The intent of a reply that did not understand the caller."""


@dataclass(frozen=True, slots=True)
class Turn:
    role: Literal["caller", "agent"]
    text: str


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    intent: str | None = None
    end_conversation: bool = False


class DialogEngine(Protocol):
    name: str

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[KnowledgeEntry]) -> Reply: ...


@runtime_checkable
class StreamingDialogEngine(DialogEngine, Protocol):
    """A dialog engine that hands out its reply's text while producing it (an LLM's tokens), so the
    first sentence can be spoken before the last is written (`streams.agents.speech.reply_streamed`).
    `on_text` gets the raw pieces in order; the returned `Reply` is the whole, cleaned reply."""

    def reply_streaming(
        self,
        text: str,
        history: Sequence[Turn],
        knowledge: Sequence[KnowledgeEntry],
        on_text: Callable[[str], None],
    ) -> Reply: ...
