"""MediaSession without sockets: quality reports, and the G.722/Opus transcoding path tick by tick."""

from __future__ import annotations

import numpy as np

from edge.facts import FactRecorder, ListPublisher
from edge.media.clock import MediaClock
from edge.media.codecs.g711 import PCMU
from edge.media.codecs.registry import Binding, Transcoder, default_registry
from edge.media.rtp.packet import RtpPacket
from edge.media.session import MediaSession
from edge.media.storage import UriStore
from schemas.models import MediaQualityReported


class Wire:
    """Stands in for the RTP transport: keeps what the session sends."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: object) -> None:
        self.sent.append(bytes(data))

    def close(self) -> None:
        pass


def make_session(codec_name: str = "PCMU", pt: int = 0) -> tuple[MediaSession, ListPublisher, Wire]:
    publisher = ListPublisher()
    codec = default_registry().by_name(codec_name)
    transcoder = None if codec_name == "PCMU" else Transcoder(Binding(codec, pt), pcm_rate=8000)
    session = MediaSession(
        "c1",
        local_port=40000,
        remote_addr=("127.0.0.1", 40002),
        codec=PCMU if transcoder is None else codec,
        transcoder=transcoder,
        payload_type=pt,
        dtmf_payload_type=101,
        ptime_ms=20,
        facts=FactRecorder(publisher, "edge-test"),
        clock=MediaClock(),
        store=UriStore(),
        quality_interval_s=1.0,
    )
    wire = Wire()
    session.rtp_transport = wire  # type: ignore[assignment]
    return session, publisher, wire


def reports(publisher: ListPublisher) -> list[MediaQualityReported]:
    return [r for r in publisher.records if isinstance(r, MediaQualityReported)]


async def test_no_rtp_received_reports_no_measurement_not_a_perfect_line() -> None:
    session, publisher, _ = make_session()
    for i in range(200):  # 4 s of ticks, past several quality intervals
        session.tick(100.0 + i * 0.02)
    assert reports(publisher) == []  # no periodic report while nothing was measured
    await session.close()
    (final,) = reports(publisher)
    assert final.final and final.packets_received == 0
    assert final.mos == 0.0 and final.r_factor == 0.0


async def test_received_rtp_gets_an_emodel_estimate() -> None:
    session, publisher, _ = make_session()
    for i in range(60):
        packet = RtpPacket(
            payload_type=0, sequence_number=i, timestamp=160 * i, ssrc=7, payload=b"\xff" * 160
        )
        session.receive_rtp(bytes(packet), ("127.0.0.1", 40002))
        session.tick(100.0 + i * 0.02)
    await session.close()
    final = reports(publisher)[-1]
    assert final.packets_received == 60 and 4.0 < final.mos < 4.5 and final.r_factor > 80


async def test_g722_session_encodes_every_tick_with_its_rtp_clock() -> None:
    session, _, wire = make_session("G722", 9)
    tone = (np.sin(2 * np.pi * 440 * np.arange(1600) / 8000) * 8000).astype(np.int16)
    session.play(tone, "p1", barge_in=False, source_uri=None)
    for i in range(15):
        session.tick(100.0 + i * 0.02)
    packets = [RtpPacket.parse(d) for d in wire.sent]
    assert len(packets) == 15 and all(p.payload_type == 9 and len(p.payload) == 160 for p in packets)
    assert [p.timestamp - packets[0].timestamp for p in packets[:3]] == [0, 160, 320]
    await session.close()


async def test_opus_session_uses_the_48k_rtp_clock_and_8k_pcm() -> None:
    session, _, wire = make_session("opus", 111)
    session.tick(100.0)
    session.tick(100.02)
    a, b = (RtpPacket.parse(d) for d in wire.sent)
    assert a.payload_type == 111 and b.timestamp - a.timestamp == 960
    tone = np.zeros(800, dtype=np.int16)
    session.play(tone, "p2", barge_in=False, source_uri=None)
    assert session._playbacks["p2"][0] == 100  # ms of 8 kHz PCM, not of the 48 kHz RTP clock
    await session.close()


async def test_fast_and_full_header_paths_agree() -> None:
    session, _, wire = make_session()
    addr = ("127.0.0.1", 40002)
    plain = RtpPacket(payload_type=0, sequence_number=1, timestamp=160, ssrc=9, payload=b"\x00" * 160)
    with_csrc = RtpPacket(
        payload_type=0, sequence_number=2, timestamp=320, ssrc=9, payload=b"\x00" * 160, csrc=(5,)
    )
    other_pt = RtpPacket(payload_type=18, sequence_number=3, timestamp=480, ssrc=9, payload=b"\x00" * 20)
    for packet in (plain, with_csrc, other_pt):
        session.receive_rtp(bytes(packet), addr)
    assert session.packets_received == 2 and session.dropped == {"payload_type": 1}
    assert len(session._jitter) == 2
    for i in range(5):
        session.tick(100.0 + i * 0.02)
    sent = [RtpPacket.parse(d) for d in wire.sent]
    assert [p.marker for p in sent] == [True, False, False, False, False]
    assert [(p.sequence_number - sent[0].sequence_number) % 65536 for p in sent] == [0, 1, 2, 3, 4]
    assert [(p.timestamp - sent[0].timestamp) % (1 << 32) for p in sent] == [0, 160, 320, 480, 640]
    assert {p.ssrc for p in sent} == {session.sender.ssrc} and session.sender.packet_count == 5
    assert all(p.payload == b"\xff" * 160 for p in sent)  # PCMU silence while nothing plays
    await session.close()


class GridClock(MediaClock):
    """A clock that is not running but reports where its next tick is."""

    def __init__(self) -> None:
        super().__init__()
        self.next: float | None = None

    @property
    def next_deadline(self) -> float | None:
        return self.next


async def test_a_prompt_queued_between_ticks_sends_its_first_packet_at_once() -> None:
    from schemas.models import PlaybackStarted

    session, publisher, wire = make_session()
    clock = GridClock()
    session._clock = clock
    session.tick(100.0)
    session.tick(100.02)
    assert len(wire.sent) == 2  # silence
    clock.next = 100.04
    tone = (np.sin(np.arange(800) / 3) * 8000).astype(np.int16)  # 100 ms
    session.play(tone, "p1", barge_in=True, source_uri=None)
    assert len(wire.sent) == 3  # the prompt's first packet, without waiting for the tick
    assert [type(r) for r in publisher.records].count(PlaybackStarted) == 1
    session.tick(100.04)  # that was this tick's packet: nothing more now
    assert len(wire.sent) == 3
    for i in range(3, 7):
        session.tick(100.0 + i * 0.02)
    packets = [RtpPacket.parse(data) for data in wire.sent]
    assert [p.sequence_number - packets[0].sequence_number for p in packets] == list(range(7))
    assert [p.timestamp - packets[0].timestamp for p in packets] == [160 * i for i in range(7)]
    prompt = [p.payload for p in packets[2:7]]
    assert prompt == [PCMU.encode(tone[i * 160 : (i + 1) * 160]) for i in range(5)]
    # A second prompt queued behind a playing one waits its turn: nothing is sent ahead.
    session.play(tone, "p2", barge_in=True, source_uri=None)
    session.play(tone, "p3", barge_in=True, source_uri=None)
    assert len(wire.sent) == 8  # p2 went ahead (p1 had finished); p3 queued behind it


# --- the source policy and the error paths ---------------------------------------------------------


class FailingWire(Wire):
    """A transport whose sendto raises, as asyncio's does for an address the socket cannot take."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc
        self.closed = False

    def sendto(self, data: bytes, addr: object) -> None:
        raise self.exc

    def close(self) -> None:
        self.closed = True


def caller_session(trust: object, remote: tuple[str, int] | None) -> tuple[MediaSession, ListPublisher, Wire]:
    from edge.media.rtp.source_policy import MediaTrust

    assert isinstance(trust, MediaTrust)
    publisher = ListPublisher()
    session = MediaSession(
        "c2",
        local_port=40000,
        remote_addr=remote,
        codec=PCMU,
        payload_type=0,
        dtmf_payload_type=101,
        ptime_ms=20,
        facts=FactRecorder(publisher, "edge-test"),
        clock=MediaClock(),
        store=UriStore(),
        trust=trust,
    )
    wire = Wire()
    session.rtp_transport = wire  # type: ignore[assignment]
    return session, publisher, wire


def rtp_from(session: MediaSession, addr: tuple[str, int], seq: int) -> None:
    packet = RtpPacket(
        payload_type=0, sequence_number=seq, timestamp=160 * seq, ssrc=3, payload=b"\xff" * 160
    )
    session.receive_rtp(bytes(packet), addr)


async def test_a_failing_sendto_closes_the_sockets_at_once_and_reports_the_failure() -> None:
    import asyncio

    session, publisher, _ = make_session()
    failures: list[str] = []
    closed: list[object] = []
    session._on_failed = failures.append
    session._on_closed = closed.append
    rtp, rtcp = FailingWire(ValueError("bad address")), FailingWire(OSError("unreachable"))
    session.rtp_transport, session.rtcp_transport = rtp, rtcp  # type: ignore[assignment]
    session._clock.add(session)
    session.tick(100.0)  # must not raise out of the tick
    assert session.failed and failures == ["c1"]
    assert rtp.closed and rtcp.closed and session.rtp_transport is None
    assert len(session._clock) == 0  # off the clock: no 50 errors a second
    session.tick(100.02)  # a stray tick does nothing
    await asyncio.sleep(0)  # the close task runs
    await asyncio.sleep(0)
    assert session.closed and closed == [session]
    assert reports(publisher)[-1].final


async def test_close_closes_both_sockets_whatever_fails_before() -> None:
    session, _, _ = make_session()
    rtp, rtcp = FailingWire(ValueError("x")), FailingWire(TypeError("y"))
    session.rtp_transport, session.rtcp_transport = rtp, rtcp  # type: ignore[assignment]
    session.policy.rtcp_dest = ("127.0.0.1", 40003)

    def explode(final: bool) -> None:
        raise RuntimeError("fact sink gone")

    session._report_quality = explode  # type: ignore[method-assign]
    closed: list[object] = []
    session._on_closed = closed.append
    await session.close()
    assert rtp.closed and rtcp.closed and closed == [session]


async def test_an_unproven_caller_gets_no_rtp_and_prompts_wait_until_its_ack() -> None:
    from edge.media.rtp.source_policy import MediaTrust
    from schemas.models import PlaybackStarted

    session, publisher, wire = caller_session(MediaTrust("192.0.2.10", proven=False), ("192.0.2.10", 4000))
    tone = np.full(1600, 1000, dtype=np.int16)  # 200 ms
    session.play(tone, "greeting", barge_in=False, source_uri=None)
    for i in range(10):
        session.tick(100.0 + i * 0.02)
    assert wire.sent == []
    assert PlaybackStarted not in [type(r) for r in publisher.records]  # nothing played yet
    session.prove()
    for i in range(10, 16):
        session.tick(100.0 + i * 0.02)
    assert len(wire.sent) == 6
    assert [type(r) for r in publisher.records].count(PlaybackStarted) == 1
    assert session.player.playing  # 200 ms prompt, 6 ticks in: still playing, none of it lost
    await session.close()


async def test_before_the_ack_the_callers_rtp_buys_replies_byte_for_byte() -> None:
    from edge.media.rtp.source_policy import MediaTrust

    session, _, wire = caller_session(MediaTrust("192.0.2.10", proven=False), ("192.0.2.10", 4000))
    for i in range(5):
        rtp_from(session, ("192.0.2.10", 4000), i)  # 172 bytes each
        session.tick(100.0 + i * 0.02)
    assert 0 < sum(len(d) for d in wire.sent) <= 5 * 172
    await session.close()


async def test_media_for_a_foreign_sdp_address_waits_for_the_callers_own_rtp() -> None:
    from edge.media.rtp.source_policy import MediaTrust

    session, _, wire = caller_session(MediaTrust("192.0.2.10", proven=True), ("127.0.0.2", 4000))
    for i in range(5):
        session.tick(100.0 + i * 0.02)
    assert wire.sent == [] and session.remote_rtp is None
    rtp_from(session, ("203.0.113.9", 6000), 1)  # someone else: dropped and counted
    assert session.dropped == {"unexpected_source": 1} and session.remote_rtp is None
    rtp_from(session, ("192.0.2.10", 31000), 2)  # the caller behind its NAT
    assert session.remote_rtp == ("192.0.2.10", 31000) and session.remote_rtcp == ("192.0.2.10", 31001)
    session.tick(100.2)
    assert len(wire.sent) == 1
    await session.close()
