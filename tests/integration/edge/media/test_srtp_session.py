"""SDES-SRTP sessions: the wire carries no plaintext audio, and the peer's own SrtpContext decrypts it."""

from __future__ import annotations

import asyncio
import uuid

import numpy as np

from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from edge.media.rtp.packet import RtpPacket
from edge.media.rtp.rtcp import Bye, ReceiverReport, SenderReport, parse_compound
from edge.media.srtp import AES_CM_128_HMAC_SHA1_32, CryptoAttribute, SrtpContext
from schemas.envelope import envelope
from schemas.models import PlayAudio, PlaybackFinished, UtteranceCaptured
from tests.support.audio import correlation

from .conftest import FIXTURES, send_rtp_stream


async def test_srtp_prompt_is_opaque_on_the_wire_and_decrypts_at_the_peer(harness, make_caller) -> None:
    caller = await make_caller()
    ours, theirs = CryptoAttribute.generate(1), CryptoAttribute.generate(1)
    session = await harness.open_session(
        "call-srtp", caller.addr, crypto_local=str(ours), crypto_remote=str(theirs)
    )
    port = session.local_port
    peer = SrtpContext(local=theirs, remote=ours)
    prompt = load_wav(FIXTURES / "opening_hours_8k.wav")
    await harness.engine.execute(
        PlayAudio(
            **envelope("call-srtp", seq=1, source="test"),
            playback_id=str(uuid.uuid4()),
            pcm=prompt.tobytes(),
            sample_rate=8000,
        )
    )
    await harness.wait_for(PlaybackFinished, within=20)
    # the caller talks back over SRTP; a plaintext packet is refused
    caller.send(bytes(RtpPacket(0, 1, 1, 1, PCMU.encode(prompt[:160]))), ("127.0.0.1", port))
    speech = np.concatenate([np.zeros(4000, dtype=np.int16), prompt, np.zeros(12000, dtype=np.int16)])
    frames = [PCMU.encode(speech[i : i + 160]) for i in range(0, speech.size - 159, 160)]
    await send_rtp_stream(caller, ("127.0.0.1", port), frames, protect=peer.protect)
    (utterance,) = await harness.wait_for(UtteranceCaptured)
    await session.close()

    wire = [data for _, data in caller.received]
    plain_frames = [PCMU.encode(prompt[i : i + 160]) for i in range(0, prompt.size - 159, 160)]
    chunks = {f[40:56] for f in plain_frames if len(set(f)) > 8}  # 16 bytes of every non-trivial frame
    assert len(chunks) > 50
    assert not any(chunk in data for data in wire for chunk in chunks)

    packets = [RtpPacket.parse(peer.unprotect(data)) for data in wire]
    audio = np.concatenate([PCMU.decode(p.payload) for p in packets])
    assert correlation(audio, prompt) > 0.9
    assert session.dropped.get("srtp", 0) >= 1
    assert (
        correlation(
            np.concatenate([np.zeros(8000, np.int16), prompt, np.zeros(8000, np.int16)]),
            np.frombuffer(utterance.pcm, "<i2"),
        )
        > 0.9
    )


async def test_srtcp_reports_are_protected_and_readable_by_the_peer(harness, make_caller) -> None:
    caller, rtcp = await make_caller(), await make_caller()
    ours = CryptoAttribute.generate(1, AES_CM_128_HMAC_SHA1_32)
    theirs = CryptoAttribute.generate(1, AES_CM_128_HMAC_SHA1_32)
    session = await harness.open_session(
        "call-srtcp", caller.addr, dtmf_payload_type=None, crypto_local=str(ours), crypto_remote=str(theirs)
    )
    port = session.local_port
    peer = SrtpContext(local=theirs, remote=ours)
    await send_rtp_stream(caller, ("127.0.0.1", port), [PCMU.silence()] * 10, protect=peer.protect)
    rtcp.send(b"\x80\xc9\x00\x01" + bytes(4), ("127.0.0.1", port + 1))  # plaintext RR: refused
    rtcp.send(peer.protect_rtcp(bytes(ReceiverReport(0x1234))), ("127.0.0.1", port + 1))
    await asyncio.sleep(0.1)
    assert session.remote_rtcp == rtcp.addr  # RTCP latched onto the peer's RTCP source
    session.send_rtcp()
    await session.close()  # sends the final SR + BYE
    await asyncio.sleep(0.1)
    reports = [parse_compound(peer.unprotect_rtcp(data)) for _, data in rtcp.received]
    assert len(reports) == 2
    sr = reports[0][0]
    assert isinstance(sr, SenderReport) and sr.ssrc == session.session.sender.ssrc and sr.packet_count > 0
    assert sr.reports and sr.reports[0].ssrc == 0x1234
    assert isinstance(reports[1][-1], Bye)
    assert session.dropped.get("rtcp_srtp") == 1
