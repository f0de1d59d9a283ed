"""RtpEndpoint, the asyncio shell of a media session, with stand-in transports: effects carried out,
a failing ``sendto`` failing the endpoint at once, and ``close()`` closing both sockets whatever fails."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from edge.facts import FactRecorder, ListPublisher
from edge.media.clock import MediaClock
from edge.media.codecs.g711 import PCMU
from edge.media.endpoint import RtpEndpoint
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.rtcp import Bye, parse_compound
from edge.media.session import MediaSession
from edge.media.storage import UriStore
from schemas.models import MediaQualityReported, PlaybackFinished, PlaybackStarted, RecordingFinished


class Wire:
    """Stands in for a datagram transport: keeps what is sent, and whether it was closed."""

    def __init__(self, exc: BaseException | None = None) -> None:
        self.sent: list[tuple[bytes, Any]] = []
        self.exc = exc
        self.closed = False

    def sendto(self, data: bytes, addr: Any) -> None:
        if self.exc is not None:
            raise self.exc
        self.sent.append((bytes(data), addr))

    def close(self) -> None:
        self.closed = True


def make_endpoint(
    publisher: ListPublisher | None = None, **kw: Any
) -> tuple[RtpEndpoint, ListPublisher, Wire, Wire]:
    publisher = publisher or ListPublisher()
    session = MediaSession(
        "c1",
        local_port=40000,
        remote_addr=("127.0.0.1", 40002),
        codec=PCMU,
        payload_type=0,
        dtmf_payload_type=101,
        ptime_ms=20,
        now=100.0,
    )
    endpoint = RtpEndpoint(
        session,
        facts=kw.pop("facts", FactRecorder(publisher, "edge-test")),
        clock=MediaClock(),
        store=UriStore(),
        **kw,
    )
    rtp, rtcp = Wire(), Wire()
    endpoint.rtp_transport, endpoint.rtcp_transport = rtp, rtcp  # type: ignore[assignment]  # stand-ins
    return endpoint, publisher, rtp, rtcp


def reports(publisher: ListPublisher) -> list[MediaQualityReported]:
    return [r for r in publisher.records if isinstance(r, MediaQualityReported)]


async def test_ticks_send_on_the_rtp_socket_and_facts_reach_the_sink() -> None:
    endpoint, publisher, rtp, rtcp = make_endpoint()
    endpoint.play(np.full(320, 900, dtype=np.int16), "p1", barge_in=False, source_uri=None)
    for i in range(4):
        endpoint.tick(100.0 + i * 0.02)
    assert [addr for _, addr in rtp.sent] == [("127.0.0.1", 40002)] * 4 and rtcp.sent == []
    tone = PCMU.encode(np.full(160, 900, dtype=np.int16))
    assert [RtpPacket.parse(d).payload for d, _ in rtp.sent[:2]] == [tone] * 2
    assert [type(r) for r in publisher.records] == [PlaybackStarted, PlaybackFinished]
    assert [r.seq for r in publisher.records] == [1, 2]  # stamped by the recorder, per call
    assert endpoint.packets_sent == 4
    await endpoint.close()
    (bye,) = rtcp.sent
    assert isinstance(parse_compound(bye[0])[-1], Bye) and bye[1] == ("127.0.0.1", 40003)
    assert rtp.closed and rtcp.closed and reports(publisher)[-1].final


async def test_a_failing_sendto_closes_the_sockets_at_once_and_reports_the_failure() -> None:
    endpoint, publisher, _, _ = make_endpoint()
    failures: list[str] = []
    closed: list[object] = []
    endpoint._on_failed = failures.append
    endpoint._on_closed = closed.append
    rtp, rtcp = Wire(ValueError("bad address")), Wire(OSError("unreachable"))
    endpoint.rtp_transport, endpoint.rtcp_transport = rtp, rtcp  # type: ignore[assignment]  # stand-ins
    endpoint._clock.add(endpoint)
    endpoint.tick(100.0)  # must not raise out of the tick
    assert endpoint.failed and failures == ["c1"]
    assert rtp.closed and rtcp.closed and endpoint.rtp_transport is None
    assert len(endpoint._clock) == 0  # off the clock: no 50 errors a second
    endpoint.tick(100.02)  # a stray tick does nothing
    await asyncio.sleep(0)  # the close task runs
    await asyncio.sleep(0)
    assert endpoint.closed and closed == [endpoint]
    assert reports(publisher)[-1].final


async def test_close_closes_both_sockets_whatever_fails_before() -> None:
    class GoneSink:
        def record(self, fact: Any) -> Any:
            raise RuntimeError("fact sink gone")

    closed: list[object] = []
    endpoint, _, _, _ = make_endpoint(facts=GoneSink(), on_closed=closed.append)
    rtp, rtcp = Wire(ValueError("x")), Wire(TypeError("y"))
    endpoint.rtp_transport, endpoint.rtcp_transport = rtp, rtcp  # type: ignore[assignment]  # stand-ins
    await endpoint.close()
    assert rtp.closed and rtcp.closed and closed == [endpoint]


async def test_a_recording_is_stored_when_the_call_closes(tmp_path: Any) -> None:
    endpoint, publisher, _, _ = make_endpoint()
    uri = (tmp_path / "r1.wav").as_uri()
    endpoint.start_recording("r1", uri, "wav")
    for i in range(10):
        endpoint.tick(100.0 + i * 0.02)
    await endpoint.close()
    (finished,) = [r for r in publisher.records if isinstance(r, RecordingFinished)]
    assert finished.uri == uri and finished.duration_ms == 200
    assert (tmp_path / "r1.wav").stat().st_size == finished.size_bytes
    assert type(publisher.records[-1]) is RecordingFinished  # after the final quality report


async def test_a_failed_effect_fails_the_endpoint_like_a_failed_send() -> None:
    from edge.media.session import Failed

    failures: list[str] = []
    endpoint, _, rtp, rtcp = make_endpoint(on_failed=failures.append)
    endpoint._carry([Failed("rtcp", ValueError("SRTCP protect failed"))])
    assert endpoint.failed and failures == ["c1"] and rtp.closed and rtcp.closed
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert endpoint.closed
