"""Who may call: trunks (trusted source ranges) and each dialplan's access mode (pure).

A **trunk** is a configured peer — a carrier, an SBC, a PBX — known by its source addresses
(``Trunk`` config records: CIDR ranges, ``media_anywhere``, ``enabled``). A request whose source IP is
inside an enabled trunk's ranges is *from that trunk*: it bypasses digest authentication and the
per-source rate limits, and its calls get media under the trunk's rules (see
:mod:`edge.media.rtp.source_policy`). Several trunks may overlap: the most specific range wins, then
the trunk id, so the choice is deterministic.

Each dialplan has an **access mode**:

=================  ==================================================================================
``open``           anyone may call (the default on a loopback-only edge)
``digest_required`` every INVITE is digest-challenged (RFC 3261 §22); trunk sources bypass it
``trunks_only``    only trunk sources; anyone else gets 403
=================  ==================================================================================

A dialplan record without an explicit ``access`` maps its old ``require_auth`` flag to
``digest_required``, and otherwise takes the edge's ``sip_default_access`` — which is also the access
of the built-in default plan. An edge whose SIP binds beyond loopback refuses to start while that
default would be ``open`` without the operator having said so (:func:`exposure_error`).

``trunks_only`` refuses others with a 403 rather than silence: the refusal is smaller than the INVITE
that caused it and (as every final response to an unproven source) never retransmitted by a timer, so
it amplifies nothing, while it tells a misconfigured legitimate peer what is wrong and leaves a
``CallRejected`` for the operator; a scanner learns nothing it did not already know from any answer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from edge.media.rtp.source_policy import Network, parse_networks

Access = Literal["open", "trunks_only", "digest_required"]
ACCESS_MODES: tuple[Access, ...] = ("open", "trunks_only", "digest_required")
TRUNK_CACHE_MAX = 4096  # source IPs remembered by TrunkSet.match (cleared when full)


@dataclass(frozen=True, slots=True)
class Trunk:
    trunk_id: str
    name: str
    sources: tuple[Network, ...]
    media_anywhere: bool = False
    enabled: bool = True
    # outbound calls to numbers (edge.uas.outbound): where they go, how we authenticate, the limits
    outbound_address: str | None = None  # "host:port"; None: the trunk takes no outbound calls
    outbound_username: str | None = None
    outbound_password: str | None = None
    outbound_from_user: str | None = None
    outbound_max_calls: int = 0  # 0: no cap
    outbound_calls_per_second: float = 0.0  # 0: no limit
    outbound_register: bool = (
        False  # keep a REGISTER binding at outbound_address (edge.uas.trunk_registrations)
    )

    @classmethod
    def from_record(cls, record: Any) -> Trunk:
        """From a ``schemas.models.Trunk`` config record; ValueError on a bad CIDR."""
        return cls(
            trunk_id=record.entity_id,
            name=record.name,
            sources=parse_networks(record.sources),
            media_anywhere=record.media_anywhere,
            enabled=record.enabled,
            outbound_address=record.outbound_address,
            outbound_username=record.outbound_username,
            outbound_password=record.outbound_password,
            outbound_from_user=record.outbound_from_user,
            outbound_max_calls=record.outbound_max_calls,
            outbound_calls_per_second=record.outbound_calls_per_second,
            outbound_register=record.outbound_register,
        )

    def prefix_for(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
        """The longest of this trunk's ranges that holds ``address`` (-1: none)."""
        best = -1
        for network in self.sources:
            if address.version == network.version and address in network and network.prefixlen > best:
                best = network.prefixlen
        return best


class TrunkSet:
    """The enabled trunks, with the source-IP → trunk answer cached (asked for every datagram)."""

    __slots__ = ("_cache", "trunks")

    def __init__(self, trunks: Iterable[Trunk] = ()) -> None:
        self.trunks = tuple(t for t in trunks if t.enabled and t.sources)
        self._cache: dict[str, Trunk | None] = {}

    def match(self, ip: str) -> Trunk | None:
        if not self.trunks:
            return None
        cache = self._cache
        try:
            return cache[ip]
        except KeyError:
            pass
        found = best_trunk(self.trunks, ip)
        if len(cache) >= TRUNK_CACHE_MAX:
            cache.clear()
        cache[ip] = found
        return found


def best_trunk(trunks: Iterable[Trunk], ip: str) -> Trunk | None:
    """The enabled trunk whose most specific range holds ``ip`` (ties: the lowest trunk id)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    best: tuple[int, str] | None = None
    found: Trunk | None = None
    for trunk in trunks:
        if not trunk.enabled:
            continue
        prefix = trunk.prefix_for(address)
        if prefix < 0:
            continue
        key = (-prefix, trunk.trunk_id)
        if best is None or key < best:
            best, found = key, trunk
    return found


def effective_access(access: str | None, require_auth: bool, default: Access) -> Access:
    """A dialplan's access: explicit, else its legacy ``require_auth``, else the edge's default."""
    if access in ACCESS_MODES:
        return access
    if require_auth:
        return "digest_required"
    return default


Decision = Literal["allow", "challenge", "forbid"]


def decide(access: Access, *, trunk: Trunk | None, require_auth: bool = False) -> Decision:
    """What an INVITE under ``access`` gets: a trunk source is allowed whatever the mode; otherwise
    ``trunks_only`` forbids, ``digest_required`` (or the edge-wide ``require_auth``) challenges."""
    if trunk is not None:
        return "allow"
    if access == "trunks_only":
        return "forbid"
    if access == "digest_required" or require_auth:
        return "challenge"
    return "allow"


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` keeps a socket on loopback (``0.0.0.0``/``::`` bind everywhere)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name that resolves elsewhere


def default_access(configured: str | None, sip_host: str) -> Access:
    """The access of the default plan and of dialplans without one: as configured, else ``open`` on a
    loopback-only edge; beyond loopback an unset default is an error (see :func:`exposure_error`)."""
    if configured in ACCESS_MODES:
        return configured
    if configured is not None:
        raise ValueError(f"sip_default_access must be one of {', '.join(ACCESS_MODES)}, not {configured!r}")
    if is_loopback_host(sip_host):
        return "open"
    raise ValueError(exposure_error(None, sip_host) or "unreachable")


def exposure_error(configured: str | None, sip_host: str) -> str | None:
    """The one-line reason an edge must not start (None: it may)."""
    if configured is not None and configured not in ACCESS_MODES:
        return f"SENTIRIC_SIP_DEFAULT_ACCESS must be one of {', '.join(ACCESS_MODES)}, not {configured!r}"
    if configured is None and not is_loopback_host(sip_host):
        return (
            f"SIP would listen on {sip_host}, beyond loopback, answering anyone: set "
            "SENTIRIC_SIP_DEFAULT_ACCESS to digest_required or trunks_only (or to open, to allow that)"
        )
    return None
