"""SDES keys never reach the log: key material scrubbed from SDP text and raw SIP bytes before they
become a fact.

An SRTP call's master keys travel in its SDP (RFC 4568 SDES: ``a=crypto:<tag> <suite>
inline:<base64 key||salt>[|lifetime][|MKI:length]``, several ``;``-separated key-params allowed, and
a ``FEC_KEY=`` session parameter may carry more).  The log keeps every fact for days and is read by
many; whoever reads a key and a packet capture hears the call.  So every SDP stored in a fact
(``sdp_offer``, ``sdp_answer``) and the raw INVITE copy kept for forensics (``raw_invite``) go
through :func:`scrub_sdp` / :func:`scrub_raw` in the fact recorder; the keys live only in the media
session's memory.

What is replaced by :data:`REDACTED` (every line, case-insensitively, CRLF or bare LF):

    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^20|1:32 FEC_KEY=inline:KEY2
      → a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[redacted]|2^20|1:32 FEC_KEY=inline:[redacted]
    a=crypto:<anything not shaped "<digits> <SUITE> <key-params>">  → a=crypto:[redacted]
    a=key-mgmt:mikey <data>                → a=key-mgmt:mikey [redacted]        (RFC 4567)
    k=clear:<key> / k=base64:<key>         → k=clear:[redacted]                 (RFC 4566 §5.12)

The tag, suite, lifetime and MKI stay (they are not secret and help reading a call); anything that
does not parse as SDES is redacted whole, so a malformed line cannot smuggle a key past the rule.

Raw SIP bytes (``raw_invite``, the ladder's ``SipMessageObserved.raw``) also lose the credentials of
their ``Authorization`` / ``Proxy-Authorization`` headers (RFC 3261 §22): a digest response on the log
would let its readers guess the password offline.  Only the scheme stays, folded lines included::

    Authorization: Digest username="alice", realm="x", nonce="…", response="…"
      → Authorization: Digest [redacted]
"""

from __future__ import annotations

import re
from typing import Final

REDACTED: Final = "[redacted]"
RAW_INVITE_BOUND: Final = 8192
"""Bytes of an INVITE kept in ``CallInviteReceived.raw_invite``: the whole of nearly every real one."""

_KEY = r"([ \t]*(?:a[ \t]*=[ \t]*(crypto|key-mgmt)[ \t]*:|k[ \t]*=))([^\r\n]*)"
_KEY_LINE = re.compile("^" + _KEY, re.I | re.M)  # lines end in LF (or CRLF): the usual case, fast
# A line starts after a bare CR too: a key there is still scrubbed (a lookbehind scan, 4x slower).
_KEY_LINE_ANY_EOL = re.compile(r"(?:\A|(?<=[\r\n]))" + _KEY, re.I)
_BARE_CR = re.compile("\r(?!\n)")
_SUITE = re.compile(r"[A-Z0-9_]{1,64}")
_LIFETIME_MKI = re.compile(r"(\|(2\^)?[0-9]{1,20})?(\|[0-9]{1,10}:[0-9]{1,3})?")
_INLINE = re.compile(r"(inline:)[^|;\s]*", re.I)
# A header line (after CRLF, LF or CR) named Authorization or Proxy-Authorization, and its folded
# continuation lines (RFC 3261 §7.3.1): group 1 keeps the name and the scheme, the rest goes.
_CREDENTIALS = re.compile(
    r"((?:\A|(?<=[\r\n]))(?:proxy-)?authorization[ \t]*:[ \t]*(?:[a-z][a-z0-9_-]{0,19}(?=[ \t]))?)"
    r"[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*",
    re.I,
)


def _key_params(kp: str) -> str:
    out = []
    for part in kp.split(";"):
        method, colon, info = part.partition(":")
        if colon and method.lower() == "inline":
            _key, bar, rest = info.partition("|")
            tail = bar + rest if _LIFETIME_MKI.fullmatch(bar + rest) else ""  # else it may hide a key
            out.append(f"{method}:{REDACTED}{tail}")
        else:
            out.append(REDACTED)
    return ";".join(out)


def _session_param(param: str) -> str:
    name, eq, value = param.partition("=")
    if eq and name.upper() == "FEC_KEY":  # RFC 4568 §6.3.7: key-params of the FEC stream
        return f"{name}={_key_params(value)}"
    return _INLINE.sub(rf"\g<1>{REDACTED}", param)


def _crypto(value: str) -> str:
    tokens = value.split()
    if len(tokens) < 3 or not tokens[0].isdigit() or not _SUITE.fullmatch(tokens[1]):
        return REDACTED
    session = [_session_param(t) for t in tokens[3:]]
    return " ".join([tokens[0], tokens[1], _key_params(tokens[2]), *session])


def _line(match: re.Match[str]) -> str:
    head, kind, value = match.group(1), match.group(2), match.group(3)
    if kind is None:  # k=<method>[:<key>]; only k=prompt carries no key
        method, colon, _ = value.partition(":")
        if colon:
            return f"{head}{method}:{REDACTED}"
        return head + (value if value.strip().lower() == "prompt" else REDACTED)
    if kind.lower() == "key-mgmt":
        protocol = value.split(None, 1)
        return head + (f"{protocol[0]} {REDACTED}" if protocol else REDACTED)
    return head + _crypto(value)


def scrub_sdp(sdp: str) -> str:
    """``sdp`` with every SDES, MIKEY and ``k=`` key replaced by :data:`REDACTED`."""
    low = sdp.lower()  # a cheap look first: most SDPs carry no key (the full scan costs ~6 µs)
    if "crypto" not in low and "key-mgmt" not in low and "k" not in low:
        return sdp
    return (_KEY_LINE_ANY_EOL if _BARE_CR.search(sdp) else _KEY_LINE).sub(_line, sdp)


def scrub_credentials(message: str) -> str:
    """``message`` with every Authorization / Proxy-Authorization header cut to its scheme."""
    if "authorization" not in message.lower():
        return message
    return _CREDENTIALS.sub(rf"\g<1> {REDACTED}", message)


def scrub_raw(message: bytes, bound: int = RAW_INVITE_BOUND) -> bytes:
    """The first ``bound`` bytes of a SIP message with its SDP's keys and its credentials scrubbed
    (before the cut, so more of the message fits). Latin-1 maps every octet to one code point: the
    rest stays byte-exact."""
    # Scrubbing a prefix is safe too: whatever of a key or credentials line the cut leaves is redacted.
    text = message[: 4 * bound].decode("latin-1")
    return scrub_credentials(scrub_sdp(text)).encode("latin-1")[:bound]
