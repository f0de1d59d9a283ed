"""SIP over TLS with SDES-SRTP against a real peer: Debian's baresip (sipp is built without TLS) calls
the edge at ``sip:...;transport=tls`` on its TLS port, headless, with ``mediaenc=srtp-mand`` (an
RTP/SAVP offer with ``a=crypto``).

baresip runs from a config directory in tmp_path: the ``aufile`` source plays a silent WAV as its microphone,
the ``aubridge`` player (with no bridge partner it plays nowhere) stands in for a sound card, and the
``sndfile`` filter dumps what it decoded, i.e. what it heard, to a WAV file.  The edge answers, plays
the greeting into the call, hears baresip's SRTP (its packet counter only moves for packets that
authenticate), and hangs up; the BYE goes down baresip's TLS connection and the call ends cleanly.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import uuid
import wave
from pathlib import Path

import numpy as np

from edge.media.playback import load_wav
from schemas.envelope import envelope
from schemas.models import PlayAudio
from sentiric.cert import LocalCertificate
from sentiric.net import free_port
from tests.support.audio import correlation

from .conftest import BASIC, StartEdge, node_facts, sip_names, sip_only
from .test_sip_srtp import PROMPT

MODULES = ("g711.so", "aufile.so", "aubridge.so", "sndfile.so", "srtp.so", "menu.so", "account.so")


def microphone(path: Path, seconds: int = 30) -> Path:
    """baresip's microphone: a quiet room for ``seconds`` (aufile stops sending at the file's end).
    Silence, because speech would barge in on the greeting (the edge stops playing when the caller
    talks) and the test listens for the whole greeting."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(2 * 8000 * seconds))
    return path


def baresip_config(directory: Path, cert: LocalCertificate, recordings: Path) -> None:
    directory.mkdir()
    lines = [
        "poll_method epoll",
        f"sip_listen 127.0.0.1:{free_port()}",
        f"sip_cafile {cert.ca_file}",
        f"audio_source aufile,{microphone(directory.parent / 'microphone.wav')}",
        "audio_player aubridge,nowhere",
        "audio_alert aubridge,nowhere",
        "ausrc_srate 8000",
        "ausrc_channels 1",
        "auplay_srate 8000",
        "auplay_channels 1",
        f"snd_path {recordings}",
        "module_path /usr/lib/baresip/modules",
        *(f"module {m}" for m in MODULES if m not in ("menu.so", "account.so")),
        "module_app account.so",
        "module_app menu.so",
    ]
    (directory / "config").write_text("\n".join(lines) + "\n")
    # No registration; every call's offer is RTP/SAVP with SDES keys; G.711 µ-law only.
    account = "<sip:caller@127.0.0.1;transport=tls>;regint=0;mediaenc=srtp-mand;audio_codecs=PCMU"
    (directory / "accounts").write_text(account + "\n")
    (directory / "contacts").write_text("")


def heard(recordings: Path) -> np.ndarray:
    """What baresip decoded from the call (sndfile's ``dump-*-dec.wav``)."""
    (dump,) = recordings.glob("dump-*-dec.wav")
    with wave.open(str(dump)) as w:
        assert (w.getframerate(), w.getnchannels()) == (8000, 1)
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")


async def test_baresip_calls_over_tls_with_sdes_srtp(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    cert = LocalCertificate(tmp_path / "tls")
    cert.make()
    app = await start_edge(sip_tls_port=0, sip_tls_cert_file=cert.cert_file, sip_tls_key_file=cert.key_file)
    assert app.sip_tls_port > 0 and app.core is not None and app.media is not None
    config, recordings = tmp_path / "baresip", tmp_path / "heard"
    recordings.mkdir()
    baresip_config(config, cert, recordings)
    target = f"sip:agent@127.0.0.1:{app.sip_tls_port};transport=tls"
    log = (tmp_path / "baresip.log").open("wb")
    peer = await asyncio.create_subprocess_exec(
        "baresip", "-s", "-f", str(config), "-e", f"/dial {target}", "-t", "120",
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not (sessions := list(app.media.sessions.items())):
            assert peer.returncode is None, (tmp_path / "baresip.log").read_text(errors="replace")
            assert loop.time() < deadline, "no call from baresip: " + (tmp_path / "baresip.log").read_text()
            await asyncio.sleep(0.05)
        ((call_id, session),) = sessions
        call = app.core.calls[call_id]
        assert call.peer.transport == "tls" and session.srtp is not None
        prompt = load_wav(PROMPT)
        greeting_done = session.packets_sent + prompt.size // 160  # the edge sends only what it plays
        await app.engine.execute(
            PlayAudio(
                **envelope(call_id, seq=1, source="test"),
                playback_id=str(uuid.uuid4()),
                pcm=prompt.tobytes(),
                sample_rate=8000,
            )
        )
        # the greeting is 20 ms packets for its length; baresip's microphone streams in meanwhile
        deadline = loop.time() + 60
        while session.packets_sent < greeting_done or session.packets_received < 50:
            assert loop.time() < deadline, (session.packets_sent, session.packets_received)
            await asyncio.sleep(0.05)
        # then half a second of baresip's own packets (its clock), so the greeting's tail has been
        # through its jitter buffer and decoder before the BYE
        tail = session.packets_received + 25
        while session.packets_received < tail:
            assert loop.time() < deadline, session.packets_received
            await asyncio.sleep(0.05)
        app.endpoint.hangup(call_id, "agent_hangup")  # type: ignore[union-attr]
        (records,) = [sip_only(r) for r in (await node_facts(app, kafka, 1)).values()]
    finally:
        peer.terminate()
        await asyncio.wait_for(peer.wait(), 30)
        log.close()
    text = (tmp_path / "baresip.log").read_text(errors="replace")
    assert sip_names(records) == BASIC, text
    invited, answered, ended = records[0], records[3], records[-2]
    assert invited.transport == "tls" and answered.srtp is True
    assert ended.reason == "agent_hangup"
    assert "RTP/SAVP" in (answered.sdp_answer or "")
    assert correlation(heard(recordings), prompt) > 0.9, text
    # baresip's SIP trace (-s): every message went over TLS, and our BYE got its 200 (a clean end)
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in text
    assert re.search(r"^TLS 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\r?\nBYE sip:", text, re.M), text
    assert re.search(r"^SIP/2\.0 200 OK\r?\n(?:[^\r\n]+\r?\n)*?CSeq: \d+ BYE", text, re.M), text
    assert not re.search(r"^(?:UDP|TCP) ", text, re.M)
