"""SDES-SRTP through SIP with sipp as the caller (RFC 4568, RFC 3711), the real media engine and Kafka.

The offer is ``m=audio <port> RTP/SAVP 0`` with the caller's ``a=crypto`` line; ``<port>`` is a UDP socket
this test binds as the caller's media port, so it sees exactly what the edge puts on the wire.  During a
PlayAudio the wire must carry no plaintext µ-law, and an SrtpContext keyed with the edge's own key from
the 200 OK's SDP (the answer the edge holds in memory for the call) must decrypt it back to the prompt.
Neither key reaches the log: the call's facts carry its SDPs and raw INVITE with the keys redacted.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from pathlib import Path

import numpy as np
import pytest

from edge.media.codecs.g711 import PCMU
from edge.media.playback import load_wav
from edge.media.rtp.packet import RtpPacket
from edge.media.srtp import SUITES, CryptoAttribute, SrtpContext
from edge.redact import REDACTED
from schemas.codec import encode
from schemas.envelope import envelope
from schemas.models import PlayAudio
from tests.support.audio import correlation
from tests.support.sipp import run_sipp

from .conftest import BASIC, StartEdge, node_facts, sip_names, sip_only

PROMPT = Path(__file__).parents[2] / "fixtures" / "media" / "opening_hours_8k.wav"


class Wire(asyncio.DatagramProtocol):
    """The caller's RTP port: every datagram that reaches it, as sent."""

    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append(data)


@pytest.mark.parametrize("suite", ["AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32"])
async def test_srtp_call_wire_is_opaque_and_decrypts_with_the_answered_key(
    start_edge: StartEdge, kafka: str, tmp_path: Path, suite: str
) -> None:
    app = await start_edge()
    loop = asyncio.get_running_loop()
    transport, wire = await loop.create_datagram_endpoint(Wire, local_addr=("127.0.0.1", 0))
    try:
        rtp_port = transport.get_extra_info("sockname")[1]
        caller_key = CryptoAttribute.generate(1, SUITES[suite])
        sipp = asyncio.create_task(
            run_sipp(
                app.sip_port,
                tmp_path,
                scenario="uac_srtp.xml",
                extra=["-d", "4000", "-key", "crypto", str(caller_key), "-key", "rtp_port", str(rtp_port)],
            )
        )
        assert app.core is not None and app.media is not None
        for _ in range(200):
            calls = [c for c in app.core.calls.values() if c.call_id in app.media.sessions]
            if calls:
                break
            await asyncio.sleep(0.02)
        (call,) = calls
        assert call.local_sdp is not None
        (edge_crypto,) = call.local_sdp.media[0].cryptos  # the edge's key lives in memory only
        prompt = load_wav(PROMPT)
        await app.engine.execute(
            PlayAudio(
                **envelope(call.call_id, seq=1, source="test"),
                playback_id=str(uuid.uuid4()),
                pcm=prompt.tobytes(),
                sample_rate=8000,
            )
        )
        result = await sipp
    finally:
        transport.close()
    assert result.returncode == 0, result.describe()
    (everything,) = (await node_facts(app, kafka, 1)).values()
    records = sip_only(everything)
    assert sip_names(records) == BASIC
    invited, answered = records[0], records[3]
    assert answered.srtp is True
    assert edge_crypto.suite == suite and edge_crypto.inline_key not in str(caller_key)

    # the log: no key of either side in any of the call's facts, SDPs and raw INVITE included
    keys = [base64.b64encode(caller_key.key_salt), edge_crypto.inline_key.encode()]
    assert all(len(k) == 40 for k in keys)
    on_log = b"".join(encode(r) for r in everything)
    assert not [k for k in keys if k in on_log or k[:20] in on_log or k[20:] in on_log]
    assert f"a=crypto:{edge_crypto.tag} {suite} inline:{REDACTED}" in answered.sdp_answer
    assert f"a=crypto:1 {suite} inline:{REDACTED}" in invited.sdp_offer
    assert (
        invited.raw_invite.startswith(b"INVITE sip:") and f"inline:{REDACTED}".encode() in invited.raw_invite
    )

    # the wire: SRTP-sized packets, and no 16-byte run of any non-trivial prompt frame in the clear
    tag = SUITES[suite].rtp_tag_length
    assert len(wire.packets) > 100
    assert {len(p) for p in wire.packets} == {12 + 160 + tag}
    frames = [PCMU.encode(prompt[i : i + 160]) for i in range(0, prompt.size - 159, 160)]
    chunks = {f[40:56] for f in frames if len(set(f)) > 8}
    assert len(chunks) > 50
    assert not any(chunk in packet for packet in wire.packets for chunk in chunks)

    # the caller's side: its own key out, the edge's answered key in
    peer = SrtpContext(local=caller_key, remote=CryptoAttribute.parse(str(edge_crypto)))
    packets = [RtpPacket.parse(peer.unprotect(p)) for p in wire.packets]  # loopback: in order
    first = packets[0].sequence_number
    assert [p.sequence_number for p in packets] == [(first + i) & 0xFFFF for i in range(len(packets))]
    audio = np.concatenate([PCMU.decode(p.payload) for p in packets])
    assert correlation(audio, prompt) > 0.9


async def test_required_policy_refuses_a_plain_offer_with_488(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge(srtp_policy="required")
    result = await run_sipp(app.sip_port, tmp_path, scenario="uac_refused.xml")
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 1
    (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1, wait_s=5)).values()]
    assert sip_names(records) == ["CallInviteReceived", "DialplanResolved", "CallRejected", "CallEnded"]
    rejected = records[2]
    assert (rejected.sip_status, rejected.stage, rejected.reason) == (488, "sdp", "sdp_not_acceptable")
