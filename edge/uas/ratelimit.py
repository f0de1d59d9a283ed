"""Per-source limits in front of the SIP parser (pike style): token buckets, size cap, auth-failure blocks.

Every datagram (or TCP frame) from a non-trunk source is checked before it is parsed, so a flood costs
a dictionary lookup and a few float operations per message, not a parse:

1. **blocked** — the source failed digest authentication ``auth_fail_limit`` times within
   ``auth_fail_window_s`` and is ignored for ``block_s`` (svcrack then gets silence, not answers);
2. **oversized** — a UDP message over ``max_udp_bytes`` (4 KiB by default). RFC 3261 §18.1.1 already
   sends anything within 200 bytes of the path MTU (1300 bytes when unknown) over TCP, so a bigger UDP
   request is either IP-fragmented abuse or a misconfigured client, and answering it would echo its bulk
   to an address nobody has vouched for;
3. **rate_limited** — the method, sniffed from the first bytes (``INVITE``, ``REGISTER``, ``OPTIONS``;
   requests start with their method, RFC 3261 §7.1), finds its per-source bucket empty.

Buckets refill continuously (``rate`` tokens/s up to ``burst``). A phone places a call or two a minute,
re-registers every few minutes and may send OPTIONS keep-alives every few seconds; the defaults
(INVITE 10/s burst 20, REGISTER 5/s burst 10, OPTIONS 20/s burst 40) leave a PBX behind one NAT room
for dozens of phones while a flood from one address is cut to a trickle. Every table is bounded: the
source table is an LRU of ``max_sources`` entries (a spoofed-source flood evicts old entries — each
new source starts with a full burst, which is the inherent limit of per-source limiting), and the
failure and block tables are bounded LRUs too; blocks come only from failed authentication, which needs
a real round trip (the nonce), so spoofed sources cannot fill them.

Everything takes ``now`` (seconds, monotonic); nothing here does I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

LIMITED_METHODS = ("INVITE", "REGISTER", "OPTIONS")
_PREFIXES = tuple((m.encode() + b" ", i) for i, m in enumerate(LIMITED_METHODS))


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens per second (0: unlimited)
    burst: float


@dataclass(frozen=True, slots=True)
class SourceLimits:
    invite: Bucket = Bucket(10.0, 20.0)
    register: Bucket = Bucket(5.0, 10.0)
    options: Bucket = Bucket(20.0, 40.0)
    max_udp_bytes: int = 4096  # 0: no cap
    auth_fail_limit: int = 5  # 0: never block
    auth_fail_window_s: float = 60.0
    block_s: float = 300.0
    max_sources: int = 16384

    @property
    def buckets(self) -> tuple[Bucket, Bucket, Bucket]:
        return (self.invite, self.register, self.options)


def sniff_method(data: bytes) -> int:
    """Index of the limited method ``data`` starts with (into :data:`LIMITED_METHODS`), or -1."""
    head = data[:9]
    for prefix, index in _PREFIXES:
        if head.startswith(prefix):
            return index
    return -1


class _Source:
    __slots__ = ("stamp", "tokens")

    def __init__(self, limits: SourceLimits, now: float) -> None:
        self.tokens = [b.burst for b in limits.buckets]
        self.stamp = [now, now, now]


class SourceGuard:
    """The per-source tables; :meth:`check` is the pre-parse gate."""

    def __init__(self, limits: SourceLimits | None = None) -> None:
        self.limits = limits or SourceLimits()
        self._sources: OrderedDict[str, _Source] = OrderedDict()
        self._failures: OrderedDict[str, list[float]] = OrderedDict()  # ip → failure times in the window
        self._blocked: OrderedDict[str, float] = OrderedDict()  # ip → blocked until

    def __len__(self) -> int:
        return len(self._sources)

    def check(self, ip: str, data: bytes, transport: str, now: float) -> tuple[str, int] | None:
        """None to let the message through, else ``(reason, method index)``: ``blocked``,
        ``oversized`` or ``rate_limited`` (method index -1 when no limited method was sniffed)."""
        limits = self.limits
        method = sniff_method(data)
        if self._blocked and self.blocked(ip, now):
            return "blocked", method
        if limits.max_udp_bytes and transport == "udp" and len(data) > limits.max_udp_bytes:
            return "oversized", method
        if method < 0:
            return None
        bucket = limits.buckets[method]
        if bucket.rate <= 0:
            return None
        sources = self._sources
        source = sources.get(ip)
        if source is None:
            source = sources[ip] = _Source(limits, now)
            if len(sources) > limits.max_sources:
                sources.popitem(last=False)
        else:
            sources.move_to_end(ip)
        tokens = min(bucket.burst, source.tokens[method] + (now - source.stamp[method]) * bucket.rate)
        source.stamp[method] = now
        if tokens < 1.0:
            source.tokens[method] = tokens
            return "rate_limited", method
        source.tokens[method] = tokens - 1.0
        return None

    def blocked(self, ip: str, now: float) -> bool:
        until = self._blocked.get(ip)
        if until is None:
            return False
        if now < until:
            return True
        del self._blocked[ip]
        return False

    def auth_failed(self, ip: str, now: float) -> bool:
        """Record a failed digest attempt from ``ip``; True when this one blocks the source."""
        limits = self.limits
        if limits.auth_fail_limit <= 0:
            return False
        window_start = now - limits.auth_fail_window_s
        times = [t for t in self._failures.pop(ip, ()) if t > window_start]
        times.append(now)
        if len(times) < limits.auth_fail_limit:
            self._failures[ip] = times
            if len(self._failures) > limits.max_sources:
                self._failures.popitem(last=False)
            return False
        self._blocked[ip] = now + limits.block_s
        self._blocked.move_to_end(ip)
        if len(self._blocked) > limits.max_sources:
            self._blocked.popitem(last=False)
        return True
