"""SRTP with SDES key exchange (RFC 4568) over libsrtp (the ``pylibsrtp`` binding), RFC 3711.

SDP crypto attribute (RFC 4568 §9.1)::

    a=crypto:<tag> <crypto-suite> <key-params>[;<key-params>...] [<session-param> ...]
    key-params = "inline:" <base64(master key || master salt)> ["|" <lifetime>] ["|" <MKI> ":" <length>]
    lifetime   = 1*DIGIT / "2^" 1*DIGIT        (packets)

Supported suites (RFC 4568 §6.2): AES_CM_128_HMAC_SHA1_80 and AES_CM_128_HMAC_SHA1_32, both with a
128-bit key and 112-bit salt (30 bytes, 40 base64 characters); they differ in the RTP authentication
tag (10 or 4 bytes; SRTCP always uses 10). Only the first key-params of an attribute is used; MKIs are
parsed and rebuilt but not used for keying (libsrtp is given the single master key).

``SrtpContext`` holds one outbound session (our key, as we offered/answered it) and one inbound session
(the peer's key) for a call. Every libsrtp failure — authentication, replay, malformed packet — surfaces
as ``SrtpError`` with the operation in its message, for the I/O layer to count and drop.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass

import pylibsrtp

MASTER_KEY_LENGTH = 16
MASTER_SALT_LENGTH = 14
KEY_SALT_LENGTH = MASTER_KEY_LENGTH + MASTER_SALT_LENGTH


class SrtpError(ValueError):
    """An SRTP/SDES failure: a bad crypto attribute, or a packet that fails protection checks."""


@dataclass(frozen=True, slots=True)
class SrtpSuite:
    name: str
    profile: int  # libsrtp profile number
    rtp_tag_length: int


AES_CM_128_HMAC_SHA1_80 = SrtpSuite(
    "AES_CM_128_HMAC_SHA1_80", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 10
)
AES_CM_128_HMAC_SHA1_32 = SrtpSuite(
    "AES_CM_128_HMAC_SHA1_32", pylibsrtp.Policy.SRTP_PROFILE_AES128_CM_SHA1_32, 4
)
SUITES: dict[str, SrtpSuite] = {s.name: s for s in (AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)}

_LIFETIME = re.compile(r"(?:2\^)?\d+")
_MKI = re.compile(r"(\d+):(\d+)")


@dataclass(frozen=True, slots=True)
class CryptoAttribute:
    """The value of one ``a=crypto`` SDP attribute."""

    tag: int
    suite: SrtpSuite
    key_salt: bytes  # master key || master salt, 30 bytes
    lifetime: str | None = None  # as written: "2^31" or "1048576"
    mki: tuple[int, int] | None = None  # (value, length in bytes)
    session_params: tuple[str, ...] = ()

    @classmethod
    def generate(cls, tag: int = 1, suite: SrtpSuite = AES_CM_128_HMAC_SHA1_80) -> CryptoAttribute:
        return cls(tag, suite, secrets.token_bytes(KEY_SALT_LENGTH))

    @property
    def lifetime_packets(self) -> int | None:
        if self.lifetime is None:
            return None
        if self.lifetime.startswith("2^"):
            return 1 << int(self.lifetime[2:])
        return int(self.lifetime)

    @classmethod
    def parse(cls, value: str | bytes) -> CryptoAttribute:
        """Parse ``<tag> <suite> inline:...``; an ``a=crypto:`` or ``crypto:`` prefix is accepted."""
        text = value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
        text = text.strip()
        for prefix in ("a=crypto:", "crypto:"):
            if text.startswith(prefix):
                text = text[len(prefix) :]
        fields = text.split()
        if len(fields) < 3:
            raise SrtpError(f"crypto attribute needs a tag, a suite and key parameters: {text!r}")
        tag_text, suite_name, key_params = fields[0], fields[1], fields[2]
        if not tag_text.isdigit() or len(tag_text) > 9:
            raise SrtpError(f"crypto attribute tag is not a number: {tag_text!r}")
        suite = SUITES.get(suite_name)
        if suite is None:
            raise SrtpError(f"unsupported SRTP crypto suite: {suite_name}")
        first = key_params.split(";")[0]
        if not first.startswith("inline:"):
            raise SrtpError(f"crypto key method is not inline: {first!r}")
        parts = first[len("inline:") :].split("|")
        try:
            key_salt = base64.b64decode(parts[0], validate=True)
        except (binascii.Error, ValueError):
            raise SrtpError("crypto key is not valid base64") from None
        if len(key_salt) != KEY_SALT_LENGTH:
            raise SrtpError(f"crypto key||salt must be {KEY_SALT_LENGTH} bytes, got {len(key_salt)}")
        lifetime: str | None = None
        mki: tuple[int, int] | None = None
        for part in parts[1:]:
            mki_match = _MKI.fullmatch(part)
            if mki_match and mki is None:
                mki = (int(mki_match.group(1)), int(mki_match.group(2)))
            elif _LIFETIME.fullmatch(part) and lifetime is None and mki is None:
                lifetime = part
            else:
                raise SrtpError(f"crypto key parameter is invalid: {part!r}")
        return cls(int(tag_text), suite, key_salt, lifetime, mki, tuple(fields[3:]))

    @property
    def key_params(self) -> str:
        text = "inline:" + base64.b64encode(self.key_salt).decode("ascii")
        if self.lifetime is not None:
            text += "|" + self.lifetime
        if self.mki is not None:
            text += f"|{self.mki[0]}:{self.mki[1]}"
        return text

    def __str__(self) -> str:
        return " ".join([str(self.tag), self.suite.name, self.key_params, *self.session_params])

    def __bytes__(self) -> bytes:
        return str(self).encode("ascii")


def _session(key_salt: bytes, suite: SrtpSuite, ssrc_type: int) -> pylibsrtp.Session:
    if len(key_salt) != KEY_SALT_LENGTH:
        raise SrtpError(f"SRTP key||salt must be {KEY_SALT_LENGTH} bytes, got {len(key_salt)}")
    policy = pylibsrtp.Policy(key=key_salt, ssrc_type=ssrc_type, srtp_profile=suite.profile)
    return pylibsrtp.Session(policy)


class SrtpContext:
    """Outbound and inbound SRTP/SRTCP for one call."""

    __slots__ = ("_rx", "_tx", "local", "remote")

    def __init__(self, local: CryptoAttribute, remote: CryptoAttribute) -> None:
        if local.suite != remote.suite:
            raise SrtpError(f"SRTP suites differ: local {local.suite.name}, remote {remote.suite.name}")
        self.local = local
        self.remote = remote
        self._tx = _session(local.key_salt, local.suite, pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        self._rx = _session(remote.key_salt, remote.suite, pylibsrtp.Policy.SSRC_ANY_INBOUND)

    def protect(self, rtp: bytes) -> bytes:
        try:
            return self._tx.protect(rtp)
        except pylibsrtp.Error as exc:
            raise SrtpError(f"SRTP protect failed: {exc}") from None

    def unprotect(self, srtp: bytes) -> bytes:
        try:
            return self._rx.unprotect(srtp)
        except pylibsrtp.Error as exc:
            raise SrtpError(f"SRTP unprotect failed: {exc}") from None

    def protect_rtcp(self, rtcp: bytes) -> bytes:
        try:
            return self._tx.protect_rtcp(rtcp)
        except pylibsrtp.Error as exc:
            raise SrtpError(f"SRTCP protect failed: {exc}") from None

    def unprotect_rtcp(self, srtcp: bytes) -> bytes:
        try:
            return self._rx.unprotect_rtcp(srtcp)
        except pylibsrtp.Error as exc:
            raise SrtpError(f"SRTCP unprotect failed: {exc}") from None
