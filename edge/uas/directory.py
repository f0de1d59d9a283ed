"""What the UAS core reads to decide about a call: dialplans and SIP users (a local table).

The core depends only on the :class:`Directory` protocol; the edge app passes the
:class:`~edge.config_table.ConfigTable` materialized from ``sentiric.config``, tests pass a
:class:`StaticDirectory`.  Lookups are local and synchronous: call setup never waits on the log.

:class:`DigestGate` is the digest-authentication step (RFC 3261 §22.4, RFC 8760) in front of INVITE
and REGISTER: no credentials or a stale nonce gives a challenge, wrong ones a failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from edge import metrics as m
from edge.sip.digest import AuthResult, DigestAuthenticator
from edge.sip.errors import SipParseError
from edge.sip.headers import DigestParams
from edge.sip.message import SipRequest
from edge.uas.access import Trunk, TrunkSet
from edge.uas.callerid import Caller, CallerBook
from edge.uas.dialplan import Plan
from edge.uas.ratelimit import SourceGuard
from edge.uas.tenants import Tenant
from schemas.envelope import DEFAULT_TENANT

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class UserCredentials:
    username: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    enabled: bool = True
    tenant: str = DEFAULT_TENANT

    @property
    def ha1(self) -> dict[str, str]:
        return {"MD5": self.ha1_md5, "SHA-256": self.ha1_sha256}


class Directory(Protocol):
    def dialplans(self) -> Iterable[Plan]: ...

    def user(self, username: str, realm: str) -> UserCredentials | None: ...

    def trunk_for(self, ip: str) -> Trunk | None:
        """The enabled trunk whose ranges hold ``ip`` (asked for every datagram: must be cheap)."""
        ...

    def trunk(self, trunk_id: str) -> Trunk | None:
        """The trunk ``trunk_id`` (enabled or not), for an outbound call through it."""
        ...

    def all_trunks(self) -> Iterable[Trunk]:
        """Every configured trunk (the registrations with trunks are kept in step with them)."""
        ...

    def caller(self, caller_id: str, tenant: str | None = None) -> Caller | None:
        """The contact or SIP user a From user part names (``edge.uas.callerid``), among ``tenant``'s
        records when given; None: unknown."""
        ...

    def tenants(self) -> Mapping[str, Tenant]:
        """The ``Tenant`` records by tenant id (``edge.uas.tenants``)."""
        ...


@dataclass(slots=True)
class StaticDirectory:
    plans: list[Plan] = field(default_factory=list)
    users: dict[tuple[str, str], UserCredentials] = field(default_factory=dict)
    trunks: list[Trunk] = field(default_factory=list)
    callers: CallerBook = field(default_factory=CallerBook)
    tenant_records: dict[str, Tenant] = field(default_factory=dict)

    def dialplans(self) -> Iterable[Plan]:
        return self.plans

    def user(self, username: str, realm: str) -> UserCredentials | None:
        return self.users.get((username, realm))

    def trunk_for(self, ip: str) -> Trunk | None:
        return TrunkSet(self.trunks).match(ip)

    def trunk(self, trunk_id: str) -> Trunk | None:
        return next((t for t in self.trunks if t.trunk_id == trunk_id), None)

    def all_trunks(self) -> Iterable[Trunk]:
        return self.trunks

    def caller(self, caller_id: str, tenant: str | None = None) -> Caller | None:
        return self.callers.lookup(caller_id, tenant)

    def tenants(self) -> Mapping[str, Tenant]:
        return self.tenant_records


@dataclass(frozen=True, slots=True)
class AuthOutcome:
    """``ok`` with the user name; else ``challenge`` (headers to send with 401) or ``reason``."""

    ok: bool
    username: str | None = None
    challenge: tuple[tuple[str, str], ...] = ()
    reason: str | None = None


def count_auth_failure(guard: SourceGuard, ip: str, now: float) -> None:
    """A digest attempt from ``ip`` failed (403): count it against the source; enough of them block it."""
    if guard.auth_failed(ip, now):
        m.SOURCES_BLOCKED.inc()
        log.warning("SIP source blocked after failed authentication", source=ip)


class DigestGate:
    def __init__(self, authenticator: DigestAuthenticator, directory: Directory) -> None:
        self.authenticator = authenticator
        self.directory = directory

    @property
    def realm(self) -> str:
        return self.authenticator.realm

    def _challenge(self, now: float, *, stale: bool = False, reason: str | None = None) -> AuthOutcome:
        values = self.authenticator.challenges(now, stale=stale)
        return AuthOutcome(False, challenge=tuple(("WWW-Authenticate", v) for v in values), reason=reason)

    def check(self, request: SipRequest, now: float, tenant: str | None = None) -> AuthOutcome:
        """``tenant``: the call's; a user of another tenant is as unknown as one that does not exist."""
        value = request.header("authorization")
        if value is None:
            return self._challenge(now)
        try:
            creds = DigestParams.parse(value)
        except SipParseError:
            return AuthOutcome(False, reason="malformed")
        if creds.get("realm") != self.realm:
            return self._challenge(now)  # credentials for another realm: ask for ours
        username = creds.get("username") or ""
        user = self.directory.user(username, self.realm)
        if user is None or not user.enabled or (tenant is not None and user.tenant != tenant):
            return AuthOutcome(False, username=username, reason="unknown_user")
        result = self.authenticator.verify(creds, method=request.method, now=now, ha1=user.ha1)
        if result is AuthResult.OK:
            return AuthOutcome(True, username=username)
        if result is AuthResult.STALE:
            return self._challenge(now, stale=True, reason="stale_nonce")
        return AuthOutcome(False, username=username, reason=result.value)
