"""The one error type of the SIP layer.

A :class:`SipParseError` names exactly what was wrong.  When the start line and the headers
needed to route a reply (Via, From, To, Call-ID, CSeq) were readable, ``partial`` holds an
unvalidated :class:`~edge.sip.message.SipRequest` carrying them, so the transport can answer
``status`` (400, or 505 for an unknown SIP version) instead of silently dropping (RFC 3261 §8.2,
§16.3; RFC 4475 §3.1.2).
"""

from __future__ import annotations

from typing import Any


class SipParseError(ValueError):
    """Malformed or unacceptable SIP input."""

    def __init__(self, message: str, *, partial: Any = None, status: int = 400) -> None:
        super().__init__(message)
        self.partial = partial
        self.status = status
