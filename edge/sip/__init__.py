"""Sans-IO SIP (RFC 3261): messages, typed headers, transactions, dialogs, digest, registrar.

Nothing here does I/O: parsers take bytes, state machines take ``now: float`` and return
bytes to send, events, and the next deadline.  See each module's docstring for its grammar.
"""

from edge.sip.errors import SipParseError
from edge.sip.headers import Address, CSeq, SipUri, Via
from edge.sip.message import Header, SipRequest, SipResponse, parse_message

__all__ = [
    "Address",
    "CSeq",
    "Header",
    "SipParseError",
    "SipRequest",
    "SipResponse",
    "SipUri",
    "Via",
    "parse_message",
]
