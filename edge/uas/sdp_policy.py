"""The UAS core's offer/answer policy (RFC 3264, RFC 4568 SDES): what it answers, what it offers.

Pure: the configured ``srtp_policy`` (off | optional | required), our RTP address and its family.
A refused offer raises :class:`~edge.sdp.SdpNegotiationError` carrying the status to answer (488).
"""

from __future__ import annotations

import ipaddress

from edge.media.srtp import AES_CM_128_HMAC_SHA1_80, CryptoAttribute, SrtpError
from edge.media.srtp import SUITES as SRTP_SUITES
from edge.sdp import Crypto, Negotiated, SdpNegotiationError, SessionDescription, answer
from edge.uas.config import UasConfig


def _srtp_key(suite: str) -> str | None:
    """Our own SDES key for an offered suite (RFC 4568 §6.1: each side sends with its own key)."""
    known = SRTP_SUITES.get(suite)
    return CryptoAttribute.generate(1, known).key_params if known is not None else None


def check_same_keys(current: Negotiated, new: Negotiated) -> None:
    """A modifying offer/answer must keep the SRTP keys: the media session is not re-keyed
    (RFC 4568 §7.1.4 allows new keys; we answer 488 instead and the old session stays)."""
    before, after = current.remote_crypto, new.remote_crypto
    same = (before is None and after is None) or (
        before is not None
        and after is not None
        and (before.suite, before.inline_key) == (after.suite, after.inline_key)
    )
    if not same:
        raise SdpNegotiationError("SRTP keys cannot change in a re-INVITE")


def media_addr(neg: Negotiated) -> tuple[str, int] | None:
    """Where the SDP says to send media: None for a refused stream (port 0) or the hold address."""
    if not neg.remote_port or ipaddress.ip_address(neg.remote_address).is_unspecified:
        return None
    return (neg.remote_address, neg.remote_port)


def _family(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host).version
    except ValueError:
        return None


class SdpPolicy:
    __slots__ = ("rtp_family", "rtp_host", "srtp_policy")

    def __init__(self, config: UasConfig) -> None:
        self.rtp_host = config.rtp_host
        self.srtp_policy = config.srtp_policy
        self.rtp_family = _family(config.rtp_host)

    def answer(
        self,
        offer: SessionDescription,
        port: int,
        previous: SessionDescription | None,
        current: Negotiated | None = None,
    ) -> Negotiated:
        """Our answer under the ``srtp_policy``; ``current`` is the session a re-INVITE modifies."""
        policy = self.srtp_policy
        keep = current.local_crypto if current is not None else None

        def crypto_for(suite: str) -> str | None:
            if current is not None:  # keep our key: the engine's outbound SRTP context stays valid
                return keep.key_params if keep is not None and keep.suite == suite else None
            return _srtp_key(suite)

        neg = answer(
            offer,
            local_address=self.rtp_host,
            local_port=port,
            require_srtp=policy == "required",
            crypto_for=crypto_for if policy != "off" else None,
            previous=previous,
        )
        if neg.remote_crypto is not None:  # the engine keys libsrtp with it: refuse a bad key now
            try:
                CryptoAttribute.parse(str(neg.remote_crypto))
            except SrtpError as exc:
                raise SdpNegotiationError(f"unusable SRTP key offered: {exc}") from None
        if current is not None:
            check_same_keys(current, neg)
        return neg

    def check_family(self, neg: Negotiated) -> Negotiated:
        """488 unless the peer's media address is of the family our RTP sockets speak."""
        remote = ipaddress.ip_address(neg.remote_address)  # a literal: edge.sdp checked it
        if self.rtp_family is not None and not remote.is_unspecified and remote.version != self.rtp_family:
            raise SdpNegotiationError(f"media address {remote} is IPv{remote.version}; RTP here is not")
        return neg

    def offer_crypto(self, current: Negotiated | None) -> tuple[Crypto, ...]:
        """The crypto lines of an offer we make (late offer): the current key, or a new one when
        SRTP is required (without capability negotiation an offer is either RTP/AVP or RTP/SAVP)."""
        if current is not None:
            return (current.local_crypto,) if current.local_crypto is not None else ()
        if self.srtp_policy != "required":
            return ()
        suite = AES_CM_128_HMAC_SHA1_80.name
        return (Crypto(1, suite, CryptoAttribute.generate(1).key_params),)
