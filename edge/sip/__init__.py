"""Sans-IO SIP (RFC 3261): messages, typed headers, transactions, dialogs, digest, registrar.

Nothing here does I/O: parsers take bytes, state machines take ``now: float`` and return
bytes to send, events, and the next deadline.  ``message`` and ``headers`` parse and serialise,
``builders`` make responses and in-dialog requests, ``transaction`` holds the transaction layer on
one deadline heap (``timer_heap``), ``dialog`` the UAS dialogs, ``digest`` and ``registrar``
authentication and bindings, ``framing`` splits a TCP/TLS stream into messages, ``limits`` says what
a request may carry before the edge refuses to echo it.  See each module's docstring for its grammar.
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
