"""Wire text made safe before it becomes a fact: what a string from the network may look like on the log.

Every text field of a call fact may come from a stranger: a SIP display name, a Request-URI user
(percent-decoded, so ``%00`` is a real NUL), a User-Agent, an SDP body, a WebSocket client's typed
text, a remote speech engine's transcript.  The edge decodes SIP with ``surrogateescape`` so any
octet survives parsing; an invalid UTF-8 octet is then a lone surrogate, which UTF-8 (and so Avro and
PostgreSQL) cannot carry, and a NUL is a byte PostgreSQL's ``text`` refuses.  One such field used to
stop the CDR projector for every later call.  :func:`safe_text` turns any ``str`` into one that every
consumer can store and show:

* ``U+DC80``..``U+DCFF`` (an undecodable octet kept by ``surrogateescape``) → ``\\xNN``, the octet's
  value, visibly; any other lone surrogate → ``U+FFFD``;
* C0 controls (NUL included), DEL and C1 controls → ``\\xNN``; TAB is kept, and CR/LF are kept only
  in multi-line fields (SDP bodies, spoken and typed text), escaped in one-line fields;
* longer than the field's bound (code points; UTF-8 is at most 4 bytes each) → cut, ending with
  :data:`TRUNCATED` so a reader sees that it was cut.

The result is valid UTF-8 without NUL or surrogates, at most the bound long, and a fixed point
(``safe_text(safe_text(s)) == safe_text(s)``): a backslash is not escaped, so the escapes themselves
are plain text.  That makes ``\\x00`` and a literal backslash-x-0-0 look alike — the log's text is for
people and read models; the exact octets of an INVITE stay available in ``CallInviteReceived.raw_invite``
for forensics.  Cost (bench/wiretext.py): one ``str.isprintable`` for the usual clean one-line field
(~0.2 µs); a regex scan for multi-line text (an SDP: ~1 µs); ``str.translate`` when something must be
escaped (a hostile 6 KB field: well under a millisecond). Text past the bound is never scanned.

Bounds per field (:data:`FIELD_BOUNDS`, chosen from what real peers send, with a wide margin):

    ========================== ======== ===========================================================
    field                      bound    why
    ========================== ======== ===========================================================
    sdp_offer, sdp_answer      16384    an audio SDP is 200-600 B; with many codecs, ICE candidates
                                        and crypto lines a few KB; UDP SIP rarely exceeds 8 KB
    text                       8192     a transcript, reply or typed message: a few KB at most
    from_uri, to_uri,          1024     a SIP URI with parameters is a few hundred bytes
    target_uri, uri,
    source_uri, prompt_uri,
    target
    user_agent                 512      real User-Agent values are under 200 characters
    caller, callee,            256      user parts, Call-IDs and addresses are short
    sip_call_id, remote_addr
    any other text field       1024     reasons, engine names, ids: short and ours, bounded anyway
    ========================== ======== ===========================================================
"""

from __future__ import annotations

import re
from typing import Final

TRUNCATED: Final = "…[truncated]"
DEFAULT_BOUND: Final = 1024
MULTILINE_FIELDS: Final = frozenset({"sdp_offer", "sdp_answer", "text"})
FIELD_BOUNDS: Final[dict[str, int]] = {
    "sdp_offer": 16384,
    "sdp_answer": 16384,
    "text": 8192,
    "from_uri": 1024,
    "to_uri": 1024,
    "target_uri": 1024,
    "uri": 1024,
    "source_uri": 1024,
    "prompt_uri": 1024,
    "target": 1024,
    "user_agent": 512,
    "caller": 256,
    "callee": 256,
    "sip_call_id": 256,
    "remote_addr": 256,
}

# What is escaped: C0 (minus TAB, and minus CR/LF when multi-line), DEL, C1, and every surrogate.
_UNSAFE_LINE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")
_UNSAFE_MULTILINE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escapes(keep: str) -> dict[int, str]:
    table = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0)) if chr(c) not in keep}
    for c in range(0xD800, 0xE000):  # U+DC80..U+DCFF: an octet surrogateescape could not decode
        table[c] = f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else "\ufffd"
    return table


# str.translate escapes a hostile 6 KB field ~20x faster than re.sub with a callback per match.
_LINE_TABLE = _escapes("\t")
_MULTILINE_TABLE = _escapes("\t\r\n")


def safe_text(value: str, bound: int = DEFAULT_BOUND, *, multiline: bool = False) -> str:
    """``value`` with controls escaped, surrogates replaced and at most ``bound`` code points."""
    cut = len(value) > bound
    if cut:  # escaping only lengthens a text: what lies past the bound is never shown
        value = value[:bound]
    # isprintable() is False for every C0/C1 control and surrogate (and for CR/LF, hence the search)
    if not value.isprintable() and (_UNSAFE_MULTILINE if multiline else _UNSAFE_LINE).search(value):
        value = value.translate(_MULTILINE_TABLE if multiline else _LINE_TABLE)
    if cut or len(value) > bound:
        keep = bound - len(TRUNCATED)
        value = value[:keep] + TRUNCATED if keep > 0 else value[:bound]
    return value


def safe_field(name: str, value: str) -> str:
    """:func:`safe_text` with the bound and line rule of the fact field ``name``."""
    return safe_text(value, FIELD_BOUNDS.get(name, DEFAULT_BOUND), multiline=name in MULTILINE_FIELDS)
