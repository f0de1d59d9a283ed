"""Caller identification: who is calling, as far as configuration knows, before the agent greets. Pure.

The caller id is the user part of the INVITE's From URI: an E.164 number (``+4930123456``) from a
trunk, or a SIP user name from a phone. It is looked up, in this order, among

1. the enabled ``Contact`` config records' ``numbers`` (a number matches whatever separators it was
   written with: ``+49 30 123-456``, ``004930123456`` and ``+4930123456`` are one number);
2. the enabled ``SipUser`` records by user name, which name the caller by their ``display_name``.

The edge does this, not the worker, because the answer must be on the log before the greeting: it
rides on ``DialplanResolved`` (its ``caller_*`` fields), which the dialog reducer reads before
``CallEstablished`` makes it greet — no race with a worker's lookup, no new fact in every consumer's
sequence, and call setup reads a local dictionary, never the broker. Replay sees what the edge knew
then, not today's contacts.

The From header's display name (``"Alice" <sip:...>``) is what the caller's phone chose to send:
it is recorded (``claimed_name``, made safe) for people reading the call, and never used as the
caller's name or identity. A From number is a claim too (trunks assert it, phones may not); what
matching it yields is a greeting and a profile for actions, never an authorization.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from schemas import models as m

PHONE_RE: Final = re.compile(r"\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*")
SEPARATORS: Final = re.compile(r"[ ().\-/]")


def caller_key(caller_id: str) -> str:
    """The form a caller id is compared in: a phone number without separators, ``00`` read as ``+``;
    any other id (a SIP user name) as it is."""
    text = caller_id.strip()
    if not PHONE_RE.fullmatch(text):
        return text
    digits = SEPARATORS.sub("", text)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    return digits


@dataclass(frozen=True, slots=True)
class Caller:
    """A known caller."""

    matched_by: str
    """``contact`` or ``sip_user``."""
    entity_id: str
    name: str | None
    language: str | None = None
    profile: str = "{}"
    """JSON object of strings, as the Contact record has it."""


class CallerBook:
    """The contacts and SIP users' names, indexed by caller id; rebuilt on every config change of them."""

    def __init__(self) -> None:
        self._contacts: dict[str, m.Contact] = {}
        self._users: dict[str, m.SipUser] = {}
        self._index: dict[str, Caller] = {}

    def apply(self, kind: str, entity_id: str, record: Any | None) -> None:
        """A ``contact`` or ``sipuser`` config record (None: deleted) under its entity id."""
        table: dict[str, Any] = self._contacts if kind == "contact" else self._users
        if record is None:
            if table.pop(entity_id, None) is None:
                return
        else:
            table[entity_id] = record
        self._index = _index(self._contacts, self._users)

    def lookup(self, caller_id: str) -> Caller | None:
        return self._index.get(caller_key(caller_id)) if caller_id else None

    def __len__(self) -> int:
        return len(self._contacts)


def _index(contacts: Mapping[str, m.Contact], users: Mapping[str, m.SipUser]) -> dict[str, Caller]:
    """Caller id → caller: contacts over SIP users, and for one number the smallest contact id, so the
    answer does not depend on the order records arrived in."""
    out: dict[str, Caller] = {}
    for entity_id in sorted(users):
        u = users[entity_id]
        if u.enabled and u.username not in out:
            out[u.username] = Caller("sip_user", entity_id, (u.display_name or "").strip() or None)
    claimed: set[str] = set()
    for entity_id in sorted(contacts):
        c = contacts[entity_id]
        if not c.enabled:
            continue
        for number in c.numbers:
            key = caller_key(number)
            if key and key not in claimed:
                claimed.add(key)
                out[key] = Caller("contact", entity_id, c.name.strip() or None, c.language, c.profile)
    return out


def caller_fields(caller_id: str, known: Caller | None, claimed_name: str | None) -> dict[str, Any]:
    """The ``caller_*`` fields of ``DialplanResolved`` for a caller id looked up as ``known``."""
    return {
        "caller": caller_id,
        "caller_matched_by": known.matched_by if known else "none",
        "caller_contact_id": known.entity_id if known else None,
        "caller_name": known.name if known else None,
        "caller_language": known.language if known else None,
        "caller_profile": known.profile if known else "{}",
        "caller_claimed_name": claimed_name or None,
    }
