"""What the UAS core is configured with (built from the settings by :func:`edge.app.uas_config`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from edge.sip.limits import EchoLimits
from edge.sip.transaction import TimerConfig
from edge.uas.access import Access
from edge.uas.ratelimit import SourceLimits


@dataclass(frozen=True, slots=True)
class LadderLimits:
    """How much of its calls' signalling the edge records as ``SipMessageObserved`` (edge.uas.ladder)."""

    enabled: bool = True
    max_messages: int = 200  # per call; the next one records a truncated marker, the rest are counted
    max_bytes: int = 4096  # kept of each message


@dataclass(frozen=True, slots=True)
class UasConfig:
    host: str = "127.0.0.1"  # our SIP address (Via, Contact)
    port: int = 5060
    tls_port: int | None = None  # SIP over TLS, when it listens: Via and Contact of TLS flows
    rtp_host: str = "127.0.0.1"  # c= address of our SDP
    realm: str = "sentiric"
    auth_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    require_auth: bool = False  # challenge every INVITE, whatever the dialplan says
    register_auth: bool = True
    auth_algorithms: tuple[str, ...] = ("SHA-256", "MD5")  # one challenge each, preferred first
    ring_s: float = 0.0  # send 180 and wait this long before the 200 (0: answer at once)
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # dialplan hours
    media_timeout_s: float = 30.0  # no RTP for this long ends the call (0: never)
    transfer_ring_s: float = 30.0  # a refused REFER: the edge calls the target this long (0: no bridge)
    challenge_ttl_s: float = 32.0  # a 401 not answered by then ends the call attempt
    srtp_policy: str = "optional"  # off | optional | required
    timers: TimerConfig = field(default_factory=TimerConfig)
    server: str = "sentiric-edge"
    default_access: Access = "open"  # the default plan's, and that of dialplans without one
    unproven_retransmits: int = 2  # copies of a 2xx beyond the first for an unproven UDP peer
    unproven_ratio: float = 3.0  # ...and no more bytes of them than this times the INVITE's
    max_calls_per_source: int = 20  # concurrent calls from one non-trunk IP before 503 (0: no cap)
    limits: SourceLimits = field(default_factory=SourceLimits)  # pre-parse, per source
    echo: EchoLimits = field(default_factory=EchoLimits)  # what a request may make us echo
    ladder: LadderLimits = field(default_factory=LadderLimits)  # SipMessageObserved: on, and its caps
