"""Answering a digest challenge as a client (RFC 3261 §22.2, RFC 7616 §3.4).

A 401 carries ``WWW-Authenticate`` and wants ``Authorization``; a 407 carries
``Proxy-Authenticate`` and wants ``Proxy-Authorization``.  Of several challenges we answer the
strongest algorithm we know (SHA-256 before MD5, RFC 8760 §2.4); qop ``auth`` is used when offered
(``auth-int`` is not: it would hash the body of every retry for no gain on a trunk).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from edge.sip.digest import ALGORITHMS, compute_ha1, compute_response
from edge.sip.errors import SipParseError
from edge.sip.headers import DigestParams
from edge.sip.message import SipResponse

PREFERENCE = ("SHA-512-256", "SHA-256", "MD5")  # strongest first


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str


@dataclass(frozen=True, slots=True)
class Answer:
    header: str  # "Authorization" or "Proxy-Authorization"
    value: str
    nonce: str
    stale: bool  # the server said the previous nonce had merely expired


def _rank(challenge: DigestParams) -> int:
    alg = (challenge.get("algorithm") or "MD5").upper()
    return PREFERENCE.index(alg) if alg in PREFERENCE and alg in ALGORITHMS else len(PREFERENCE)


def answer_challenge(
    response: SipResponse, credentials: Credentials, *, method: str, uri: str, cnonce: str | None = None
) -> Answer | None:
    """The credentials header answering ``response`` (a 401 or 407), or None when it holds no
    Digest challenge we can answer."""
    if response.status == 401:
        asked, header = "www-authenticate", "Authorization"
    elif response.status == 407:
        asked, header = "proxy-authenticate", "Proxy-Authorization"
    else:
        return None
    usable: list[DigestParams] = []
    for value in response.header_values(asked):
        try:
            challenge = DigestParams.parse(value)
        except SipParseError:
            continue  # another scheme's syntax; a good Digest challenge may follow
        known = _rank(challenge) < len(PREFERENCE)
        if challenge.scheme.lower() == "digest" and challenge.get("nonce") and known:
            usable.append(challenge)
    if not usable:
        return None
    challenge = min(usable, key=_rank)
    realm, nonce = challenge.get("realm") or "", challenge.get("nonce") or ""
    algorithm = challenge.get("algorithm") or "MD5"
    offered = [q.strip() for q in (challenge.get("qop") or "").split(",")]
    qop = "auth" if "auth" in offered else None
    nc, cn = ("00000001", cnonce or secrets.token_hex(8)) if qop else (None, None)
    digest = compute_response(
        algorithm=algorithm, ha1=compute_ha1(algorithm, credentials.username, realm, credentials.password),
        nonce=nonce, method=method, uri=uri, qop=qop, nc=nc, cnonce=cn,
    )  # fmt: skip
    params: list[tuple[str, str]] = [
        ("username", credentials.username), ("realm", realm), ("nonce", nonce), ("uri", uri),
        ("response", digest), ("algorithm", algorithm),
    ]  # fmt: skip
    if qop and nc and cn:
        params += [("qop", qop), ("nc", nc), ("cnonce", cn)]
    if (opaque := challenge.get("opaque")) is not None:
        params.append(("opaque", opaque))
    stale = (challenge.get("stale") or "").lower() == "true"
    return Answer(header, str(DigestParams("Digest", tuple(params))), nonce, stale)
