"""Registering the edge with a trunk's registrar (RFC 3261 §10.2), sans-IO.

One binding, kept alive::

    start ──REGISTER──▶ 401/407 ──REGISTER + credentials──▶ 2xx ──▶ Registered(expires)
                                                            │          │ refresh at half the granted time
       failure (4xx-6xx, timer F) ──▶ RegistrationFailed ──▶ retry after ``retry_s`` (doubling, capped)
    423 Interval Too Brief ──▶ again with its Min-Expires (§10.2.8)
    stop ──REGISTER Expires: 0──▶ (the binding is removed)

Every REGISTER of the binding has the same Call-ID and From tag and a CSeq one higher (§10.2); each is
its own non-INVITE client transaction (retransmission by timer E, timeout by timer F).  The granted
time is the Contact's ``expires`` parameter when the registrar echoes our Contact, else the Expires
header, else what we asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.effects import Send
from edge.sip.builders import make_request, new_branch, new_call_id, new_tag
from edge.sip.message import SipResponse
from edge.sip.transaction import NonInviteClientTransaction, ResponseReceived, TimedOut, TimerConfig
from edge.uac.credentials import Credentials, answer_challenge

DEFAULT_TIMERS = TimerConfig()
MAX_RETRY_S = 600.0


@dataclass(frozen=True, slots=True)
class Registered:
    expires: int  # seconds granted by the registrar


@dataclass(frozen=True, slots=True)
class RegistrationFailed:
    status: int | None  # None: no answer (timer F)
    reason: str


RegistrationEvent = Registered | RegistrationFailed


class TrunkRegistration:
    """The binding of ``aor`` to ``contact`` at ``registrar`` (sent to ``peer``)."""

    def __init__(
        self,
        *,
        registrar: str,
        aor: str,
        contact: str,
        via_host: str,
        via_port: int,
        peer: Any,
        credentials: Credentials | None = None,
        expires: int = 3600,
        retry_s: float = 30.0,
        timers: TimerConfig = DEFAULT_TIMERS,
        transport: str = "UDP",
    ) -> None:
        self.registrar, self.aor, self.contact = registrar, aor, contact
        self.transport = transport  # UDP, TCP or TLS: the Via's, and whether timer E retransmits
        self.via_host, self.via_port, self.peer = via_host, via_port, peer
        self.credentials = credentials
        self.asked = expires
        self.retry_s = retry_s
        self.timers = timers
        self.call_id = new_call_id(via_host)
        self.from_tag = new_tag()
        self.cseq = 0
        self.registered_until: float | None = None
        self._txn: NonInviteClientTransaction | None = None
        self._refresh_at: float | None = None
        self._auth_tried: set[str] = set()
        self._backoff = retry_s
        self._stopping = False
        self._last_expires = expires

    # -- entry points -------------------------------------------------------------------------------
    def start(self, now: float) -> list[Send]:
        return self._register(now, self.asked)

    def stop(self, now: float) -> list[Send]:
        """Remove the binding (Expires: 0); no refresh afterwards."""
        self._stopping = True
        self._refresh_at = None
        return self._register(now, 0)

    @property
    def next_deadline(self) -> float | None:
        due = [d for d in (self._refresh_at, self._txn.next_deadline if self._txn else None) if d is not None]
        return min(due) if due else None

    def receive_response(self, response: SipResponse, now: float) -> list[Send | RegistrationEvent]:
        txn = self._txn
        if txn is None or response.cseq.method != "REGISTER" or response.top_via.branch != txn.key[0]:
            return []
        out: list[Send | RegistrationEvent] = []
        for action in txn.receive_response(response, now):
            if isinstance(action, ResponseReceived):
                out += self._final(action.response, now)
        return out

    def on_timer(self, now: float) -> list[Send | RegistrationEvent]:
        out: list[Send | RegistrationEvent] = []
        if self._txn is not None:
            for action in self._txn.on_timer(now):
                if isinstance(action, Send):
                    out.append(action)
                elif isinstance(action, TimedOut):
                    out += self._failed(None, "no answer from the registrar", now)
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = None
            out += self._register(now, self.asked)
        return out

    # -- internals ----------------------------------------------------------------------------------
    def _register(self, now: float, expires: int, auth: tuple[str, str] | None = None) -> list[Send]:
        self.cseq += 1
        headers = [("Expires", str(expires))]
        if auth is not None:
            headers.append(auth)
        request = make_request(
            "REGISTER", self.registrar,
            via=f"SIP/2.0/{self.transport} {self.via_host}:{self.via_port};branch={new_branch()};rport",
            from_=f"<{self.aor}>;tag={self.from_tag}", to=f"<{self.aor}>", call_id=self.call_id,
            cseq=self.cseq, contact=f"<{self.contact}>", headers=headers,
        )  # fmt: skip
        self._last_expires = expires
        key = (request.top_via.branch or "", "REGISTER")
        reliable = self.transport != "UDP"
        self._txn = NonInviteClientTransaction(key, self.peer, self.timers, bytes(request), reliable=reliable)
        return [a for a in self._txn.start(now) if isinstance(a, Send)]

    def _final(self, response: SipResponse, now: float) -> list[Send | RegistrationEvent]:
        status = response.status
        if status < 200:
            return []
        if 200 <= status < 300:
            self._auth_tried.clear()
            self._backoff = self.retry_s
            if self._stopping:
                self.registered_until = None
                return [Registered(0)]
            granted = self._granted(response)
            self.registered_until = now + granted
            self._refresh_at = now + max(granted / 2, 1.0)
            return [Registered(granted)]
        if status in (401, 407) and self.credentials is not None:
            answer = answer_challenge(response, self.credentials, method="REGISTER", uri=self.registrar)
            tried = self._auth_tried  # a fresh challenge after our answer: the credentials are wrong
            if answer is not None and answer.nonce not in tried and (not tried or answer.stale):
                self._auth_tried.add(answer.nonce)
                return list(self._register(now, self._last_expires, (answer.header, answer.value)))
        if (
            status == 423
            and (min_expires := response.header("min-expires"))
            and min_expires.strip().isdigit()
        ):
            self.asked = int(min_expires)
            return list(self._register(now, self.asked))
        return self._failed(status, response.reason, now)

    def _granted(self, response: SipResponse) -> int:
        for contact in response.contacts:
            if str(contact.uri) == self.contact and (value := contact.param("expires")) and value.isdigit():
                return int(value)
        header = response.header("expires")
        return int(header) if header and header.strip().isdigit() else self._last_expires

    def _failed(self, status: int | None, reason: str, now: float) -> list[Send | RegistrationEvent]:
        self.registered_until = None
        if not self._stopping:
            self._refresh_at = now + self._backoff
            self._backoff = min(self._backoff * 2, MAX_RETRY_S)
        self._auth_tried.clear()
        return [RegistrationFailed(status, reason)]
