"""Caller identification: who is calling, as far as configuration knows, before the agent greets. Pure.

The caller id is the user part of the INVITE's From URI: an E.164 number (``+4930123456``) from a
trunk, or a SIP user name from a phone. It is looked up, in this order, among

1. the enabled ``Contact`` config records' ``numbers`` (a number matches whatever separators it was
   written with: ``+49 30 123-456``, ``004930123456`` and ``+4930123456`` are one number);
2. the enabled ``SipUser`` records by user name, which name the caller by their ``display_name``;

both only among the records of the call's tenant (``edge.uas.tenants``).

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
    """The contacts and SIP users, indexed by caller id. Changes are incremental (a config topic of
    100,000 contacts loads in linear time, `bench/callerid.py`); for one caller id the smallest entity id
    wins, contacts over SIP users, so the answer does not depend on the order records arrived in."""

    def __init__(self) -> None:
        self._contacts: dict[str, m.Contact] = {}
        self._users: dict[str, m.SipUser] = {}
        self._by_number: dict[str, set[str]] = {}  # caller key → enabled contacts' ids
        self._by_user: dict[str, set[str]] = {}  # user name → enabled SIP users' ids

    def apply(self, kind: str, entity_id: str, record: Any | None) -> None:
        """A ``contact`` or ``sipuser`` config record (None: deleted) under its entity id."""
        if kind == "contact":
            old = self._contacts.pop(entity_id, None)
            if old is not None:
                _unindex(self._by_number, {caller_key(n) for n in old.numbers}, entity_id)
            if record is not None:
                self._contacts[entity_id] = record
                if record.enabled:
                    _index(self._by_number, {caller_key(n) for n in record.numbers}, entity_id)
        else:
            was = self._users.pop(entity_id, None)
            if was is not None:
                _unindex(self._by_user, {was.username}, entity_id)
            if record is not None:
                self._users[entity_id] = record
                if record.enabled:
                    _index(self._by_user, {record.username}, entity_id)

    def lookup(self, caller_id: str, tenant: str | None = None) -> Caller | None:
        """The caller ``caller_id`` names; with ``tenant``, only among that tenant's records (a
        business never greets a caller by what another business knows of them)."""
        if not caller_id:
            return None
        ids = self._by_number.get(caller_key(caller_id))
        if ids:
            for entity_id in sorted(ids):
                c = self._contacts[entity_id]
                if tenant is None or c.tenant == tenant:
                    return Caller("contact", c.entity_id, c.name.strip() or None, c.language, c.profile)
        ids = self._by_user.get(caller_id)
        if ids:
            for entity_id in sorted(ids):
                u = self._users[entity_id]
                if tenant is None or u.tenant == tenant:
                    return Caller("sip_user", u.entity_id, (u.display_name or "").strip() or None)
        return None

    def __len__(self) -> int:
        return len(self._contacts)


def _index(index: dict[str, set[str]], keys: set[str], entity_id: str) -> None:
    for key in keys:
        if key:
            index.setdefault(key, set()).add(entity_id)


def _unindex(index: dict[str, set[str]], keys: set[str], entity_id: str) -> None:
    for key in keys:
        ids = index.get(key)
        if ids is not None:
            ids.discard(entity_id)
            if not ids:
                del index[key]


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
