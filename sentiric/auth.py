"""Who is calling: bearer tokens, sign-in session cookies and the principal they stand for.

Pure checks (no I/O, the clock passed in as ``now``, unix seconds) shared by the three places a stranger
can reach: the REST API and dashboard (``projections.api.auth``), the edge's ``/ws`` gateway
(``edge.ws.auth``) and the gRPC MediaService (``edge.grpc_auth``).

Tokens::

    st_<id>_<secret>    id: 16 lowercase hex digits, the ``ApiToken`` record's entity_id
                        secret: 43 characters of URL-safe base64 (256 random bits)

The ``ApiToken`` record on ``sentiric.config`` keeps SHA-256(secret) only. A fast hash is right here: the
secret is 256 random bits, so there is nothing to brute-force, and a slow password hash would only cost
CPU on every request. The lookup is by id, then ``hmac.compare_digest`` of the hashes. The bootstrap
platform-admin token (``SENTIRIC_ADMIN_TOKEN``) is any string; it is compared the same way (SHA-256 of
both sides, so its length does not leak through timing either).

Sessions (the dashboard's ``sentiric_session`` cookie)::

    v1.<token id>.<expires, unix seconds>.<mac>
    mac = base64url(HMAC-SHA256(key, "v1.<token id>.<expires>.<the token's secret_sha256>"))

The cookie names the token, never its secret, and every request looks the record up again, so a revoked
or expired token ends its sessions at once. The MAC covers the token's stored hash: revoking (which
clears the hash) or changing the bootstrap token invalidates every cookie made from it. ``key`` is the
``session_secret`` setting or, by default, HMAC-SHA256(admin_token, "sentiric session key v1"), so the
API and the edge (two processes) agree without configuration.

Scopes: ``read`` (every read), ``admin`` (admin writes; admin includes read) and ``platform`` (the
platform admin: every tenant; includes admin and read). Tenants (issue 15): every principal belongs to
one tenant, its token's ``ApiToken.tenant`` (the bootstrap token: "default", with ``platform``); a
token of a disabled ``Tenant`` is refused. Which tenant a request acts in is the API's business
(``projections.api.tenancy``): a tenant's principal only in its own, a platform principal in any.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from sentiric.settings import Settings

READ: Final = "read"
ADMIN: Final = "admin"
PLATFORM: Final = "platform"
SCOPES: Final = (READ, ADMIN, PLATFORM)
DEFAULT_TENANT: Final = "default"
SESSION_COOKIE: Final = "sentiric_session"
BOOTSTRAP_ID: Final = "bootstrap"  # never a token id: those are hex
TOKEN_PREFIX: Final = "st_"

_TOKEN = re.compile(r"st_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_SESSION = re.compile(r"v1\.([0-9a-f]{16}|bootstrap)\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")
_SESSION_KEY_LABEL: Final = b"sentiric session key v1"


class AuthError(ValueError):
    """Not authenticated; ``reason`` says why (for the 401 body and the logs, never a secret)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts for, and the tenant it belongs to."""

    token_id: str
    name: str
    scopes: frozenset[str]
    via: Literal["bearer", "session"]
    tenant: str = DEFAULT_TENANT

    @property
    def platform(self) -> bool:
        return PLATFORM in self.scopes

    def allows(self, scope: str) -> bool:
        """platform includes admin and read, admin includes read; nothing but platform gives platform."""
        if self.platform:
            return True
        return scope in self.scopes or (scope != PLATFORM and ADMIN in self.scopes)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewToken:
    token_id: str
    token: str  # shown once, to whoever issued it
    secret_sha256: str


def new_token() -> NewToken:
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewToken(token_id, f"{TOKEN_PREFIX}{token_id}_{secret}", sha256_hex(secret))


def parse_token(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed ``st_`` token, else None."""
    match = _TOKEN.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value (RFC 6750 §2.1), else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def cookie_value(cookie_header: str | None, name: str = SESSION_COOKIE) -> str | None:
    """One cookie's value from a ``Cookie`` request header (RFC 6265 §5.4), else None."""
    for part in (cookie_header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip().strip('"') or None
    return None


def derive_session_key(admin_token: str, session_secret: str | None = None) -> bytes:
    if session_secret:
        return session_secret.encode()
    return hmac.new(admin_token.encode(), _SESSION_KEY_LABEL, hashlib.sha256).digest()


def scopes_of(values: Iterable[str]) -> frozenset[str]:
    return frozenset(s for s in values if s in SCOPES)


class Verifier:
    """Checks tokens and session cookies against the token records (``lookup(token_id)`` returns the
    ``ApiToken`` record or None) and the bootstrap admin token."""

    def __init__(
        self,
        *,
        admin_token: str,
        lookup: Callable[[str], Any | None],
        session_key: bytes,
        session_ttl_s: float = 12 * 3600,
        tenant_enabled: Callable[[str], bool] | None = None,
    ) -> None:
        self.lookup = lookup
        self.tenant_enabled = tenant_enabled
        self.session_key = session_key
        self.session_ttl_s = session_ttl_s
        self._bootstrap_sha256 = sha256_hex(admin_token)
        name = "bootstrap admin (SENTIRIC_ADMIN_TOKEN)"
        self._bootstrap = Principal(BOOTSTRAP_ID, name, frozenset(SCOPES), "bearer", DEFAULT_TENANT)

    # --- bearer tokens ---

    def bearer(self, token: str, now: float) -> Principal:
        """The principal of a presented token; raises AuthError."""
        if hmac.compare_digest(sha256_hex(token), self._bootstrap_sha256):
            return self._bootstrap
        parsed = parse_token(token)
        if parsed is None:
            raise AuthError("invalid token")
        token_id, secret = parsed
        record = self._live_record(token_id, now)
        if not hmac.compare_digest(sha256_hex(secret), record.secret_sha256):
            raise AuthError("invalid token")
        return Principal(token_id, record.name, scopes_of(record.scopes), "bearer", record.tenant)

    def _live_record(self, token_id: str, now: float) -> Any:
        record = self.lookup(token_id)
        if record is None:
            raise AuthError("invalid token")
        if record.revoked or not record.secret_sha256:
            raise AuthError("token revoked")
        if record.expires_at is not None and record.expires_at.timestamp() <= now:
            raise AuthError("token expired")
        if self.tenant_enabled is not None and not self.tenant_enabled(record.tenant):
            raise AuthError("the token's tenant is disabled")
        return record

    # --- sessions ---

    def _mac(self, token_id: str, expires: int, secret_sha256: str) -> str:
        message = f"v1.{token_id}.{expires}.{secret_sha256}".encode()
        digest = hmac.digest(self.session_key, message, "sha256")  # one-shot: ~3x hmac.new().digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue_session(self, principal: Principal, now: float) -> tuple[str, int]:
        """A session cookie value for a principal just authenticated by its token, and when it expires
        (the session lifetime, or the token's own expiry if sooner)."""
        expires = int(now + self.session_ttl_s)
        if principal.token_id == BOOTSTRAP_ID:
            secret_sha256 = self._bootstrap_sha256
        else:
            record = self._live_record(principal.token_id, now)
            secret_sha256 = record.secret_sha256
            if record.expires_at is not None:
                expires = min(expires, int(record.expires_at.timestamp()))
        return (
            f"v1.{principal.token_id}.{expires}.{self._mac(principal.token_id, expires, secret_sha256)}",
            expires,
        )

    def session(self, cookie: str, now: float) -> Principal:
        """The principal of a session cookie; raises AuthError."""
        match = _SESSION.fullmatch(cookie)
        if match is None:
            raise AuthError("invalid session")
        token_id, expires_text, mac = match.groups()
        expires = int(expires_text)
        if token_id == BOOTSTRAP_ID:
            secret_sha256, principal = self._bootstrap_sha256, self._bootstrap
        else:
            record = self._live_record(token_id, now)
            secret_sha256 = record.secret_sha256
            principal = Principal(token_id, record.name, scopes_of(record.scopes), "session", record.tenant)
        if not hmac.compare_digest(mac, self._mac(token_id, expires, secret_sha256)):
            raise AuthError("invalid session")
        if expires <= now:
            raise AuthError("session expired")
        if principal.via != "session":
            principal = dataclasses.replace(principal, via="session")
        return principal


def settings_verifier(settings: Settings, lookup: Callable[[str], Any | None]) -> Verifier:
    """A verifier with this process's admin token and session key (the edge's /ws, gRPC and metrics)."""
    admin_token = settings.admin_token.get_secret_value()
    session_secret = settings.session_secret.get_secret_value() if settings.session_secret else None
    return Verifier(
        admin_token=admin_token,
        lookup=lookup,
        session_key=derive_session_key(admin_token, session_secret),
        session_ttl_s=settings.session_ttl_s,
    )
