"""The dialog engine: the plug-in seam that answers a caller's words."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from schemas.models import KnowledgeEntry


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
