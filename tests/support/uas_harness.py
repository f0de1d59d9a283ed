"""Test seams for the UAS core: a scripted SIP phone and a core wired to fakes.

``make_edge()`` builds a :class:`~edge.uas.core.UasCore` over a :class:`~edge.facts.ListPublisher`, a
small :class:`~edge.media.ports.PortPool` and a :class:`~edge.uas.directory.StaticDirectory`;
:class:`Phone` is a UAC that builds requests and remembers its dialog.  Time is whatever ``now`` the
test passes, so every scenario is deterministic.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from edge.facts import FactRecorder, ListPublisher
from edge.media.ports import PortPool
from edge.sip.builders import make_request, make_response
from edge.sip.message import SipRequest, SipResponse, parse_message
from edge.sip.transaction import Send, TimerConfig
from edge.uas.admission import Admission, AdmissionLimits
from edge.uas.call import Peer
from edge.uas.core import Effect, UasConfig, UasCore
from edge.uas.directory import StaticDirectory
from schemas.models import SipMessageObserved

PHONE = Peer("udp", ("192.0.2.10", 5062))
OFFER = (
    b"v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"
)
_counter = itertools.count(1)


def sends(effects: list[Effect]) -> list[SipRequest | SipResponse]:
    return [parse_message(e.data) for e in effects if isinstance(e, Send)]


def responses(effects: list[Effect]) -> list[SipResponse]:
    return [r for r in sends(effects) if isinstance(r, SipResponse)]


def statuses(effects: list[Effect]) -> list[int]:
    return [r.status for r in responses(effects)]


def requests(effects: list[Effect]) -> list[SipRequest]:
    return [r for r in sends(effects) if isinstance(r, SipRequest)]


@dataclass
class Edge:
    core: UasCore
    publisher: ListPublisher
    pool: PortPool
    directory: StaticDirectory
    fill: list[float] = field(default_factory=lambda: [0.0])
    media_rx: dict[str, float] = field(default_factory=dict)

    def facts(self, call_id: str | None = None, *, ladder: bool = False) -> list[Any]:
        """The facts recorded (of ``call_id``); the SIP ladder's ``SipMessageObserved`` only with
        ``ladder`` — the scenarios read the call's story, :meth:`ladder` its messages."""
        return [
            r
            for r in self.publisher.records
            if (call_id is None or r.call_id == call_id) and (ladder or type(r) is not SipMessageObserved)
        ]

    def ladder(self, call_id: str | None = None) -> list[tuple[str, str]]:
        """The call's recorded SIP messages: (direction, first line), in order."""
        return [
            (r.direction, r.first_line)
            for r in self.publisher.records
            if type(r) is SipMessageObserved and (call_id is None or r.call_id == call_id)
        ]

    def names(self, call_id: str | None = None) -> list[str]:
        return [type(r).__name__ for r in self.facts(call_id)]

    @property
    def call_id(self) -> str:
        """The platform call id of the only (or last) call seen."""
        return self.publisher.records[-1].call_id if self.publisher.records else ""  # ladder facts too

    def run_timers(self, until: float) -> list[Effect]:
        out: list[Effect] = []
        while (d := self.core.next_deadline) is not None and d <= until:
            out += self.core.on_timer(d)
        return out


def make_edge(**config: Any) -> Edge:
    publisher = ListPublisher()
    pool = PortPool(30000, 30009, quarantine_s=0.0)  # 5 RTP ports
    directory = StaticDirectory()
    limits = config.pop("limits", AdmissionLimits())
    workers = config.pop("workers", None)  # an edge.uas.admission.Workers (None: no worker check)
    if "source_limits" in config:  # the per-source gate's (UasConfig.limits)
        config["limits"] = config.pop("source_limits")
    cfg = UasConfig(host="192.0.2.1", port=5060, rtp_host="192.0.2.1", timers=TimerConfig(), **config)
    edge = Edge(None, publisher, pool, directory)  # type: ignore[arg-type]  # no Settings: the test sets what it uses
    edge.core = UasCore(
        cfg,
        facts=FactRecorder(publisher, "edge-test"),
        pool=pool,
        directory=directory,
        admission=Admission(limits, log_fill=lambda: edge.fill[0], workers=workers),
        media_activity=edge.media_rx.get,
    )
    return edge


class Phone:
    """A UAC: builds requests, remembers the dialog from the 200 OK."""

    def __init__(self, edge: Edge, peer: Peer = PHONE) -> None:
        self.edge = edge
        self.peer = peer
        n = next(_counter)
        self.call_id = f"call{n}@192.0.2.10"
        self.from_tag = f"ft{n}"
        self.to_tag: str | None = None
        self.cseq = 0
        self.invite_branch = ""
        self.invite_cseq = 0

    def request(
        self,
        method: str,
        *,
        branch: str | None = None,
        cseq: int | None = None,
        to_tag: str | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        uri: str = "sip:1000@192.0.2.1",
    ) -> SipRequest:
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        tag = to_tag if to_tag is not None else self.to_tag
        return make_request(
            method,
            uri,
            via=f"SIP/2.0/UDP 192.0.2.10:5062;branch={branch or f'z9hG4bK{next(_counter)}'};rport",
            from_=f"<sip:alice@192.0.2.10>;tag={self.from_tag}",
            to="<sip:1000@192.0.2.1>" + (f";tag={tag}" if tag else ""),
            call_id=self.call_id,
            cseq=cseq,
            contact="<sip:alice@192.0.2.10:5062>",
            headers=headers or [],
            body=body,
            content_type=content_type if content_type else ("application/sdp" if body else None),
        )

    def send(self, request: SipRequest | bytes, now: float) -> list[Effect]:
        data = request if isinstance(request, bytes) else bytes(request)
        out = self.edge.core.receive(data, self.peer, now)
        for r in responses(out):
            if r.status == 200 and r.cseq.method == "INVITE" and r.to_addr.tag:
                self.to_tag = r.to_addr.tag
        return out

    def invite(self, now: float, body: bytes = OFFER, **kw: Any) -> list[Effect]:
        req = self.request("INVITE", to_tag="", body=body, **kw)
        self.invite_branch, self.invite_cseq = req.top_via.branch or "", req.cseq.seq
        return self.send(req, now)

    def ack(self, now: float, body: bytes = b"", cseq: int | None = None) -> list[Effect]:
        return self.send(self.request("ACK", cseq=cseq or self.invite_cseq, body=body), now)

    def cancel(self, now: float) -> list[Effect]:
        req = self.request("CANCEL", branch=self.invite_branch, cseq=self.invite_cseq, to_tag="")
        return self.send(req, now)

    def call(self, now: float = 0.0) -> str:
        """INVITE + ACK; returns the platform call id."""
        self.invite(now)
        self.ack(now + 0.01)
        return self.edge.call_id

    def answer(self, request: SipRequest, status: int = 200, now: float = 0.0) -> list[Effect]:
        return self.send(bytes(make_response(request, status)), now)
