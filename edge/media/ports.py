"""RTP/RTCP UDP port pool for media sessions (RFC 3550 §11: RTP on an even port, RTCP on port + 1).

Interface shared by the SIP layer (which allocates a port before it answers an INVITE with SDP, and
answers 503 on ``PortsExhausted``) and the asyncio RTP layer (which binds the pair and releases it when
the session ends)::

    pool = PortPool(low=10000, high=20000, quarantine_s=5.0)
    rtp_port = pool.allocate(now)        # even; RTCP is rtp_port + 1; raises PortsExhausted
    ...
    pool.release(rtp_port, now)          # quarantined until now + quarantine_s
    pool.in_use                          # number of ports handed out
    pool.available(now)                  # number allocate(now) could hand out now

``low``/``high`` bound the range inclusively; only even ports whose RTCP port also fits are used.
Released ports wait ``quarantine_s`` before reuse, so late packets of an ended call (or a peer that has
not yet seen the BYE) never reach the next call that would get the same port. Allocation is FIFO over
released ports (least recently used first). Every operation is O(1) amortised: a deque of ready ports,
a deque of quarantined ones ordered by release time, and a set of ports in use. Not thread-safe: one
event loop owns the pool.

``probe`` (optional) says whether a port pair can be bound right now; ``allocate`` skips a pair that
cannot (another program on the host holds it, or another edge sharing the range), quarantining it, so
the SIP layer never answers with a port the media layer will fail to bind. The edge passes a real UDP
bind test; the pool itself does no I/O.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from sentiric.net import udp_pair_free

if TYPE_CHECKING:
    from sentiric.settings import Settings


class PortsExhausted(Exception):
    """No RTP port is free (all in use or in quarantine): answer the call with 503."""


class PortPool:
    __slots__ = ("_in_use", "_quarantine", "_ready", "high", "low", "probe", "quarantine_s", "skipped")

    def __init__(
        self, low: int, high: int, quarantine_s: float = 0.0, probe: Callable[[int], bool] | None = None
    ) -> None:
        first = low + (low % 2)
        if not 0 < low <= high <= 65535 or first + 1 > high:
            raise ValueError(f"port range {low}-{high} holds no even RTP port with its RTCP port")
        if quarantine_s < 0:
            raise ValueError(f"quarantine must not be negative, got {quarantine_s}")
        self.low = low
        self.high = high
        self.quarantine_s = quarantine_s
        self._ready: deque[int] = deque(range(first, high, 2))  # p + 1 <= high
        self._quarantine: deque[tuple[float, int]] = deque()  # (reusable at, port), in release order
        self._in_use: set[int] = set()
        self.probe = probe
        self.skipped = 0  # pairs found busy by the probe

    @property
    def capacity(self) -> int:
        return len(self._ready) + len(self._quarantine) + len(self._in_use)

    @property
    def in_use(self) -> int:
        return len(self._in_use)

    def is_allocated(self, port: int) -> bool:
        return port in self._in_use

    def _reclaim(self, now: float) -> None:
        quarantine = self._quarantine
        while quarantine and quarantine[0][0] <= now:
            self._ready.append(quarantine.popleft()[1])

    def available(self, now: float) -> int:
        self._reclaim(now)
        return len(self._ready)

    def next_release(self) -> float | None:
        """When the next quarantined port becomes reusable (None if none is quarantined)."""
        return self._quarantine[0][0] if self._quarantine else None

    def allocate(self, now: float) -> int:
        """An even RTP port (RTCP is port + 1), marked in use."""
        self._reclaim(now)
        if not self._ready:
            raise PortsExhausted(
                f"no RTP port free in {self.low}-{self.high}: {len(self._in_use)} in use, "
                f"{len(self._quarantine)} in quarantine"
            )
        ready, probe = self._ready, self.probe
        while ready:
            port = ready.popleft()
            if probe is None or probe(port):
                self._in_use.add(port)
                return port
            self.skipped += 1  # busy outside our control: try it again after a quarantine
            self._quarantine.append((now + max(self.quarantine_s, 1.0), port))
        raise PortsExhausted(f"no RTP port in {self.low}-{self.high} can be bound now")

    def release(self, port: int, now: float) -> None:
        """Give ``port`` back; it is reusable from ``now + quarantine_s``."""
        if port not in self._in_use:
            raise ValueError(f"port {port} is not allocated")
        self._in_use.remove(port)
        if self.quarantine_s > 0:
            self._quarantine.append((now + self.quarantine_s, port))
        else:
            self._ready.append(port)


def edge_port_pool(settings: Settings) -> PortPool:
    """The edge's pool: the configured range and quarantine, pairs probed with a UDP bind on the RTP host."""
    return PortPool(
        settings.rtp_port_min,
        settings.rtp_port_max,
        settings.rtp_port_quarantine_s,
        probe=partial(udp_pair_free, host=settings.rtp_host),
    )
