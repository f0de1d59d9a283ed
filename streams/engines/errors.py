"""The engine layer's one error type."""

from __future__ import annotations


class EngineError(ValueError):
    """An engine could not be loaded or could not process its input."""
