"""Digest authentication for SIP (RFC 3261 §22.4, RFC 7616, RFC 8760).

Challenge::  WWW-Authenticate: Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth"
Answer::     Authorization: Digest username="u", realm="r", nonce="n", uri="sip:...",
                            response="...", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c"

    HA1 = H(username ":" realm ":" password)          (x-sess: H(HA1 ":" nonce ":" cnonce))
    HA2 = H(method ":" digest-uri)
    response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   (no qop: H(HA1 ":" nonce ":" HA2))

Nonces are stateless: ``base64(timestamp || HMAC-SHA256(secret, timestamp || realm)[:16])``, so
any edge node sharing the secret validates them, and they expire after ``nonce_ttl`` seconds
(reported as stale=true, RFC 7616 §3.3, so the phone retries without asking the user).  Replays
are caught by remembering the highest nonce-count per nonce in a bounded LRU table; a nonce that
fell out of the table is answered stale, never accepted twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from collections import OrderedDict
from collections.abc import Mapping
from enum import Enum

from edge.sip.errors import SipParseError
from edge.sip.headers import DigestParams

ALGORITHMS: dict[str, str] = {"MD5": "md5", "SHA-256": "sha256"}
try:  # RFC 8760 SHA-512/256 when the OpenSSL build has it
    hashlib.new("sha512_256")
    ALGORITHMS["SHA-512-256"] = "sha512_256"
except ValueError:  # pragma: no cover - depends on the OpenSSL build
    pass


class AuthResult(Enum):
    OK = "ok"
    STALE = "stale"  # valid answer to an expired (or forgotten) nonce: challenge again with stale=true
    INVALID = "invalid"  # wrong password / response, or a nonce we never issued
    REPLAY = "replay"  # nonce-count not increasing
    MALFORMED = "malformed"


def _h(algorithm: str, data: str | bytes) -> str:
    """The hash of the octets as sent: text from the wire is decoded with ``surrogateescape`` (see
    edge.sip.message), so it encodes back to exactly what the peer hashed — never an error."""
    base = algorithm.upper().removesuffix("-SESS")
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    return hashlib.new(ALGORITHMS[base], raw).hexdigest()


def compute_ha1(algorithm: str, username: str, realm: str, password: str) -> str:
    return _h(algorithm, f"{username}:{realm}:{password}")


def compute_response(
    *,
    algorithm: str,
    ha1: str,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The digest ``response`` value (RFC 7616 §3.4.1; RFC 2617 §3.2.2 for MD5)."""
    if algorithm.upper().endswith("-SESS"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    if qop == "auth-int":
        ha2 = _h(algorithm, f"{method}:{uri}:{_h(algorithm, body)}")  # H(entity-body): its octets
    else:
        ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


class DigestAuthenticator:
    """Issues challenges and verifies credentials for one realm."""

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        nonce_ttl: float = 300.0,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        max_tracked_nonces: int = 10_000,
    ) -> None:
        self.realm = realm
        self._secret = secret
        self.nonce_ttl = nonce_ttl
        self.algorithms = algorithms
        self._nc: OrderedDict[str, int] = OrderedDict()
        self._max = max_tracked_nonces

    # -- nonces ---------------------------------------------------------------------------------
    def make_nonce(self, now: float) -> str:
        ts = struct.pack(">d", now)
        mac = hmac.new(self._secret, ts + self.realm.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(ts + mac).decode().rstrip("=")

    def nonce_issued_at(self, nonce: str) -> float | None:
        """When we issued ``nonce``, or None if we did not (bad MAC / garbage)."""
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except ValueError:
            return None
        if len(raw) != 24:
            return None
        ts, mac = raw[:8], raw[8:]
        good = hmac.new(self._secret, ts + self.realm.encode(), hashlib.sha256).digest()[:16]
        return struct.unpack(">d", ts)[0] if hmac.compare_digest(mac, good) else None

    # -- challenge ------------------------------------------------------------------------------
    def challenges(self, now: float, *, stale: bool = False) -> list[str]:
        """WWW-Authenticate (or Proxy-Authenticate) values, one per algorithm, strongest first."""
        nonce = self.make_nonce(now)
        out = []
        for alg in self.algorithms:
            params = [("realm", self.realm), ("nonce", nonce), ("algorithm", alg), ("qop", "auth")]
            if stale:
                params.append(("stale", "true"))
            out.append(str(DigestParams("Digest", tuple(params))))
        return out

    # -- verification ---------------------------------------------------------------------------
    def verify(
        self,
        credentials: str | DigestParams,
        *,
        method: str,
        now: float,
        password: str | None = None,
        ha1: str | Mapping[str, str] | None = None,
    ) -> AuthResult:
        """Check an Authorization/Proxy-Authorization value against ``password`` or ``ha1``.

        ``ha1`` may be a mapping algorithm → HA1 (HA1 differs per hash).  The replay table is
        only updated when the response is correct.
        """
        try:
            creds = credentials if isinstance(credentials, DigestParams) else DigestParams.parse(credentials)
        except SipParseError:
            return AuthResult.MALFORMED
        if creds.scheme.lower() != "digest":
            return AuthResult.MALFORMED
        username, nonce, uri, response = (creds.get(k) for k in ("username", "nonce", "uri", "response"))
        algorithm = creds.get("algorithm") or "MD5"
        qop, nc, cnonce = creds.get("qop"), creds.get("nc"), creds.get("cnonce")
        if None in (username, nonce, uri, response) or creds.get("realm") != self.realm:
            return AuthResult.MALFORMED
        if algorithm.upper().removesuffix("-SESS") not in ALGORITHMS:
            return AuthResult.MALFORMED
        if qop is not None and (qop not in ("auth", "auth-int") or not nc or not cnonce):
            return AuthResult.MALFORMED
        assert username is not None and nonce is not None and uri is not None and response is not None
        issued = self.nonce_issued_at(nonce)
        if issued is None:
            return AuthResult.INVALID
        if password is not None:
            key = compute_ha1(algorithm, username, self.realm, password)
        elif isinstance(ha1, Mapping):
            found = ha1.get(algorithm.upper().removesuffix("-SESS"))
            if found is None:
                return AuthResult.INVALID
            key = found
        elif ha1 is not None:
            key = ha1
        else:
            raise ValueError("verify needs a password or an HA1")
        expected = compute_response(
            algorithm=algorithm, ha1=key, nonce=nonce, method=method, uri=uri, qop=qop, nc=nc, cnonce=cnonce
        )
        # bytes: compare_digest refuses str with non-ASCII characters (a TypeError from the wire)
        if not hmac.compare_digest(expected.encode(), response.lower().encode("utf-8", "surrogateescape")):
            return AuthResult.INVALID
        if now - issued > self.nonce_ttl or issued - now > 60:
            return AuthResult.STALE
        return self._check_count(nonce, nc)

    def _check_count(self, nonce: str, nc: str | None) -> AuthResult:
        try:
            count = int(nc, 16) if nc else 1
        except ValueError:
            return AuthResult.MALFORMED
        last = self._nc.get(nonce)
        if last is None and count != 1:
            return AuthResult.STALE  # history forgotten (LRU) or never seen: cannot prove freshness
        if last is not None and count <= last:
            return AuthResult.REPLAY
        self._nc[nonce] = count
        self._nc.move_to_end(nonce)
        while len(self._nc) > self._max:
            self._nc.popitem(last=False)
        return AuthResult.OK
