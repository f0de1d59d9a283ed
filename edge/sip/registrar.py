"""A pure registrar (RFC 3261 §10.3).

``Registrar.register(request, aor, now)`` applies a REGISTER to the location store and returns
what to answer: status, reason and the headers of the response (current Contacts with their
expires, or Min-Expires for 423).  Rules:

* no Contact: a query, answered 200 with the current bindings;
* ``Contact: *`` only with ``Expires: 0`` and as the only Contact (else 400): removes all;
* per-contact ``;expires=`` wins over the Expires header, which wins over the default;
  values above ``max_expires`` are reduced; 0 < expires < ``min_expires`` gives 423;
* same Call-ID with a CSeq not higher than the stored one: the update fails (500), §10.3 step 7.

Time is a float (``now``); ``expire(now)`` drops lapsed bindings and returns them.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.sip.errors import SipParseError
from edge.sip.message import SipRequest


@dataclass(frozen=True, slots=True)
class Binding:
    aor: str
    contact: str  # the Contact URI, as text
    expires_at: float
    call_id: str
    cseq: int
    q: str | None = None

    def remaining(self, now: float) -> int:
        return max(0, int(self.expires_at - now + 0.5))


@dataclass(frozen=True, slots=True)
class RegisterResult:
    status: int
    reason: str
    headers: tuple[tuple[str, str], ...] = ()
    bindings: tuple[Binding, ...] = ()


class Registrar:
    def __init__(
        self, *, min_expires: int = 60, max_expires: int = 3600, default_expires: int = 3600
    ) -> None:
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.default_expires = default_expires
        self._store: dict[str, dict[str, Binding]] = {}

    def bindings(self, aor: str, now: float) -> tuple[Binding, ...]:
        return tuple(b for b in self._store.get(aor, {}).values() if b.expires_at > now)

    def expire(self, now: float) -> list[Binding]:
        gone: list[Binding] = []
        for aor in list(self._store):
            table = self._store[aor]
            for uri in [u for u, b in table.items() if b.expires_at <= now]:
                gone.append(table.pop(uri))
            if not table:
                del self._store[aor]
        return gone

    def register(self, request: SipRequest, aor: str, now: float) -> RegisterResult:
        try:
            return self._register(request, aor, now)
        except SipParseError as exc:
            return RegisterResult(400, f"Bad Request ({exc})")

    def _register(self, request: SipRequest, aor: str, now: float) -> RegisterResult:
        call_id, cseq = request.call_id, request.cseq.seq
        header_expires = request.expires
        table = self._store.setdefault(aor, {})
        if request.contact_is_star:
            if header_expires != 0 or len(request.get_headers("contact")) != 1:
                return RegisterResult(400, "Bad Request (Contact: * needs Expires: 0)")
            for b in table.values():
                if b.call_id == call_id and cseq <= b.cseq:
                    return RegisterResult(500, "Server Internal Error (CSeq out of order)")
            table.clear()
            return self._ok(aor, now)
        updates: list[tuple[str, int, str | None]] = []
        for contact in request.contacts:
            raw = contact.param("expires")
            if raw is not None:
                if not raw.isdigit():
                    return RegisterResult(400, "Bad Request (invalid expires parameter)")
                expires = int(raw)
            elif header_expires is not None:
                expires = header_expires
            else:
                expires = self.default_expires
            if 0 < expires < self.min_expires:
                return RegisterResult(423, "Interval Too Brief", (("Min-Expires", str(self.min_expires)),))
            updates.append((str(contact.uri), min(expires, self.max_expires), contact.param("q")))
        for uri, _, _ in updates:
            old = table.get(uri)
            if old is not None and old.call_id == call_id and cseq <= old.cseq:
                return RegisterResult(500, "Server Internal Error (CSeq out of order)")
        for uri, expires, q in updates:
            if expires == 0:
                table.pop(uri, None)
            else:
                table[uri] = Binding(aor, uri, now + expires, call_id, cseq, q)
        return self._ok(aor, now)

    def _ok(self, aor: str, now: float) -> RegisterResult:
        current = self.bindings(aor, now)
        if not current:
            self._store.pop(aor, None)
        headers = tuple(("Contact", f"<{b.contact}>;expires={b.remaining(now)}") for b in current)
        return RegisterResult(200, "OK", headers, current)
