"""Where a call's media may go and whose media it takes: the edge's anti-reflection rule (pure).

An SDP names an address, and anyone can write any address into an SDP — or into the source of a
spoofed INVITE. Sending RTP where an SDP says would make the edge a reflector (one 438-byte INVITE
naming a victim bought 50 packets/s for the 32 s until the ACK timeout: x500). So the session asks this
module, and only this module, where to send and which source to take media from:

**Destination.** Media goes only to the IP the call's signalling came from:

* the SDP's ``c=`` IP equals the signalling source IP → send to ``c=:port``;
* it differs (a private address behind NAT, or someone else's) → send nothing until the caller's own
  RTP arrives from the signalling IP (any port), then latch onto that source and send there
  (comedia; symmetric RTP, RFC 4961);
* a call from a configured **trunk** may also use any address inside the trunk's ranges, and a trunk
  marked ``media_anywhere`` has its SDP address used as given (carriers' media gateways are not their
  signalling proxies).

Once a source is latched, RTP goes back to it (symmetric RTP), whatever the SDP said.

**Proof before RTP.** A caller that is neither a trunk nor digest-authenticated (``proven=False``) gets
no RTP until it proves it receives what we send to it: its ACK of our 200 (it carries our To-tag, which
only the real caller saw; the SIP side calls :meth:`SourcePolicy.prove`). Its own RTP from the allowed
IP is weaker proof — RTP carries no secret of ours, ports are guessable and source addresses spoofable —
so until the ACK each byte received from the latched source earns one byte of sending (``may_send``):
the edge then answers in kind but never amplifies.

**Re-latch.** Another source may take over a latched stream only when

(a) it has the signalling IP (a port change, NAT rebinding) and the latched source has been silent for
    more than ``relatch_after_s`` (2 s),
(b) the call uses SRTP and the packet authenticated (the sender holds the key; before the ACK that only
    shows it wrote the offer, so sending stays credit-limited as for any unproven caller), or
(c) the call is from a trunk and the new IP is inside the trunk's ranges.

Everything else is dropped (the session counts it as ``unexpected_source``). RTCP follows the same
rule with its own latch; until an RTCP source is latched, RTCP goes to the RTP destination's port + 1.

A session opened without a signalling peer (:data:`TRUSTED`: the gRPC MediaService, whose caller is
authenticated and names the address itself, and the benchmarks) sends to the given address and keeps
the plain symmetric-RTP latch: the first source, then any source after 2 s of silence.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Addr = tuple[str, int]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

RELATCH_AFTER_S = 2.0  # a latched source silent this long may be replaced by one from the same IP
MAX_CREDIT = 16384  # bytes an unproven caller's RTP can bank for our replies (a few packets' worth)


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings (``10.0.0.0/8``, ``192.0.2.7``, ``2001:db8::/32``) → networks; ValueError on a bad one."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)


def in_networks(ip: str, networks: tuple[Network, ...]) -> bool:
    if not networks:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in n for n in networks)


@dataclass(frozen=True, slots=True)
class MediaTrust:
    """What the SIP side knows about the call's peer when media opens.

    ``signal_ip`` None means no signalling peer (see :data:`TRUSTED`). ``trunk`` holds the ranges of the
    trunk the call came from (empty: not a trunk call); ``proven`` is True for trunk and digest-
    authenticated calls, and becomes True for the others with their ACK.
    """

    signal_ip: str | None = None
    proven: bool = True
    trunk: tuple[Network, ...] = ()
    media_anywhere: bool = False


TRUSTED = MediaTrust()


class _Latch:
    __slots__ = ("addr", "seen")

    def __init__(self) -> None:
        self.addr: Addr | None = None
        self.seen = 0.0


class SourcePolicy:
    """One session's destination, latches and proof; the session asks it per packet (cheap on a hit)."""

    __slots__ = (
        "_rtcp",
        "_rtp",
        "credit",
        "dest",
        "proven",
        "relatch_after_s",
        "rtcp_dest",
        "sdp",
        "srtp",
        "trust",
    )

    def __init__(
        self,
        trust: MediaTrust,
        sdp_addr: Addr | None,
        *,
        srtp: bool = False,
        relatch_after_s: float = RELATCH_AFTER_S,
    ) -> None:
        self.trust = trust
        self.srtp = srtp
        self.relatch_after_s = relatch_after_s
        self.proven = trust.proven
        self.credit = 0
        self.sdp: Addr | None = sdp_addr
        self._rtp = _Latch()
        self._rtcp = _Latch()
        self.dest: Addr | None = None  # where RTP goes now (None: nowhere yet)
        self.rtcp_dest: Addr | None = None
        self._recompute()

    # --- what the session reads ---

    def may_send(self, size: int) -> bool:
        """Whether a packet of ``size`` bytes may go to :attr:`dest` now (always, once proven)."""
        if self.proven:
            return True
        if self.credit >= size:
            self.credit -= size
            return True
        return False

    @property
    def latched(self) -> Addr | None:
        return self._rtp.addr

    # --- what the signalling side tells it ---

    def prove(self) -> None:
        """The caller ACKed our 200: it receives what we send to it."""
        self.proven = True

    def update_sdp(self, addr: Addr | None) -> None:
        """A new SDP address (re-INVITE, late-offer answer): the sources are learnt again."""
        self.sdp = addr
        self._rtp = _Latch()
        self._rtcp = _Latch()
        self._recompute()

    # --- per received packet ---

    def accept(self, addr: Addr, now: float, size: int, *, authenticated: bool = False) -> bool:
        """An RTP packet from ``addr``: take it (and maybe latch onto ``addr``) or drop it.
        ``authenticated``: it passed SRTP authentication."""
        latch = self._rtp
        if addr == latch.addr:  # the hot path: one comparison, one store
            latch.seen = now
            if not self.proven:
                self._earn(size)
            return True
        if not self._may_take(latch, addr, now, authenticated):
            return False
        latch.addr, latch.seen = addr, now
        self._earn(size)
        self._recompute()
        return True

    def accept_rtcp(self, addr: Addr, now: float, size: int, *, authenticated: bool = False) -> bool:
        """An RTCP packet: the same rule with its own latch; the RTP source's IP counts as allowed."""
        latch = self._rtcp
        if addr == latch.addr:
            latch.seen = now
            self._earn(size)
            return True
        rtp = self._rtp.addr
        if not self._may_take(latch, addr, now, authenticated, rtp[0] if rtp is not None else None):
            return False
        latch.addr, latch.seen = addr, now
        self._earn(size)
        self._recompute()
        return True

    # --- the rule ---

    def source_ip_allowed(self, ip: str) -> bool:
        """Whether media from ``ip`` may be taken as the call's (before any latch)."""
        trust = self.trust
        if trust.signal_ip is None or ip == trust.signal_ip:
            return True
        if trust.trunk and in_networks(ip, trust.trunk):
            return True
        return trust.media_anywhere and self.sdp is not None and ip == self.sdp[0]

    def destination_allowed(self, ip: str) -> bool:
        """Whether an SDP address may be sent to before anything was received from it."""
        trust = self.trust
        if trust.signal_ip is None or trust.media_anywhere or ip == trust.signal_ip:
            return True
        return bool(trust.trunk) and in_networks(ip, trust.trunk)

    def _may_take(
        self, latch: _Latch, addr: Addr, now: float, authenticated: bool, also: str | None = None
    ) -> bool:
        """Whether ``addr`` may become ``latch``'s source; ``also`` is one more allowed IP (for RTCP:
        the latched RTP source's)."""
        if authenticated and self.srtp:
            return True  # (b): the sender holds the call's SRTP key
        ip = addr[0]
        trust = self.trust
        if latch.addr is None:
            return ip == also or self.source_ip_allowed(ip)
        if trust.trunk and in_networks(ip, trust.trunk):
            return True  # (c)
        silent = now - latch.seen > self.relatch_after_s
        if trust.signal_ip is None:
            return silent  # no signalling peer: plain symmetric RTP
        return silent and (ip == trust.signal_ip or ip == also)  # (a)

    def _earn(self, size: int) -> None:
        if not self.proven:
            self.credit = min(MAX_CREDIT, self.credit + size)

    def _recompute(self) -> None:
        latched = self._rtp.addr
        if latched is not None:
            dest: Addr | None = latched
        elif self.sdp is not None and self.destination_allowed(self.sdp[0]):
            dest = self.sdp
        else:
            dest = None
        self.dest = dest
        if self._rtcp.addr is not None:
            self.rtcp_dest = self._rtcp.addr
        else:
            self.rtcp_dest = (dest[0], dest[1] + 1) if dest is not None else None
