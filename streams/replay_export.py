"""A recorded call as files a telephony engineer opens: `<id>.pcap` and `<id>.wav` (`replay export`).

The log keeps the call's facts and audio, not its packets. SIP is *recorded* when the edge kept the
call's ladder (``SipMessageObserved``: every message both ways, retransmissions included, as it was on
the wire but for keys and credentials): each one is a UDP packet between the recorded addresses at its
time, commented "recorded" (and "cut" when the edge kept only its first bytes).  An SRTP call's recorded
SDP is shown as plain RTP (``RTP/AVP``, key lines gone, Content-Length set to match, the comment says
so), like the rebuilt one: the rebuilt media is not encrypted.  A call recorded before
the ladder existed (or with it turned off) gets its SIP *rebuilt*, as does all RTP:

- SIP: the INVITE exactly as the edge received it (`CallInviteReceived.raw_invite`, already scrubbed
  of SDES keys by the edge and scrubbed again here), then a 200 OK carrying the recorded SDP answer
  (as plain RTP: the rebuilt media is not encrypted, so no key lines and `RTP/AVP`), the ACK and the
  BYE, rebuilt from the facts (`CallAnswered`, `CallEstablished`, `CallEnded`) so the dialog reads
  whole in Wireshark's VoIP Calls and its SDP sets the RTP streams up.
- RTP (G.711 µ-law, payload type 0, 20 ms packets): the caller's utterances (`UtteranceCaptured`, at
  `start_ms` after the answer) from the caller's media address to the edge's port, and the agent's
  speech (`SpeechSynthesized`, when its playback started) back. Silence between them is not sent:
  only what the log holds is in the capture.

Every rebuilt packet says so: the file is pcapng (RFC draft-ietf-opsawg-pcapng), its section comment
and every packet's comment say "rebuilt from <fact>", and rebuilt SIP messages carry
`X-Sentiric-Rebuilt: yes`. Keys are never exported: every `a=crypto`, `a=key-mgmt` and `k=` line is
scrubbed (`edge.redact`), and the audio is the plain audio the log holds.

`<id>.wav`: 8 kHz 16-bit stereo, the caller on the left channel and the agent on the right, each at its
time since the answer.

Pure: facts in, bytes out (`pcapng_bytes`, `wav_bytes`); the command writes the files.
"""

from __future__ import annotations

import io
import re
import struct
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np

from edge.media.codecs.g711 import ulaw_decode, ulaw_encode
from edge.media.codecs.resample import resample
from edge.media.rtp.packet import RtpPacket
from edge.redact import scrub_raw, scrub_sdp
from schemas import models as m

RATE: Final = 8000
PTIME_MS: Final = 20
SAMPLES: Final = RATE * PTIME_MS // 1000
PCMU: Final = 0
LINKTYPE_ETHERNET: Final = 1
DEFAULT_SIP_PORT: Final = 5060
REBUILT_HEADER: Final = "X-Sentiric-Rebuilt: yes"
SECTION_COMMENT: Final = (
    "Sentiric replay export: SIP INVITE as received; 200 OK, ACK, BYE and all RTP rebuilt from the "
    "call's facts and recorded audio (not captured packets). SDES keys are never exported."
)
RECORDED_SIP: Final = "SIP recorded"
"""How the comment of a recorded SIP packet starts."""
RECORDED_COMMENT: Final = (
    "Sentiric replay export: SIP as recorded by the edge (SipMessageObserved; keys and credentials "
    "redacted); RTP rebuilt from the call's recorded audio (not captured packets). SDES keys are never "
    "exported."
)


_CONTENT_LENGTH = re.compile(rb"(\r\n(?:content-length|l)[ \t]*:[ \t]*)[0-9]+", re.I)


class ExportError(ValueError):
    """A call that cannot be exported (no INVITE or no answer recorded)."""


@dataclass(frozen=True, slots=True)
class Packet:
    at: float  # seconds since the epoch
    src: tuple[str, int]
    dst: tuple[str, int]
    payload: bytes
    comment: str


def _addr(text: str | None, default_port: int) -> tuple[str, int] | None:
    if not text:
        return None
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, default_port
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        return None


def _sdp_media_addr(sdp: str | None) -> tuple[str, int] | None:
    """`c=IN IP4 host` and the first `m=audio port`."""
    if not sdp:
        return None
    host = port = None
    for line in sdp.splitlines():
        if line.startswith("c=IN IP4 ") and host is None:
            host = line.split()[-1]
        elif line.startswith("m=audio ") and port is None:
            port = int(line.split()[1])
    return (host, port) if host and port else None


def _timeline(facts: Sequence[Any]) -> dict[type[Any], Any]:
    first: dict[type[Any], Any] = {}
    for fact in facts:
        first.setdefault(type(fact), fact)
    return first


def _header(raw: str, name: str) -> str | None:
    for line in raw.split("\r\n")[1:]:
        if not line:
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return None


def _sip(start: str, invite: str, extra: Sequence[str], body: str = "", cseq: str | None = None) -> bytes:
    headers = [start]
    for name in ("Via", "From", "To", "Call-ID"):
        value = _header(invite, name)
        if value is not None:
            headers.append(f"{name}: {value}")
    headers.append(f"CSeq: {cseq or _header(invite, 'CSeq') or '1 INVITE'}")
    headers += [*extra, REBUILT_HEADER, f"Content-Length: {len(body.encode())}"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body).encode()


def plain_rtp_sdp(sdp: str) -> str:
    """The answer as the rebuilt media really is: plain RTP (`RTP/AVP`, no key lines), so Wireshark
    decodes the rebuilt streams instead of taking them for SRTP it has no keys for."""
    lines = [
        line for line in sdp.split("\r\n") if not line.lower().startswith(("a=crypto:", "a=key-mgmt:", "k="))
    ]
    return "\r\n".join(lines).replace("RTP/SAVPF", "RTP/AVPF").replace("RTP/SAVP", "RTP/AVP")


def _sip_packets(facts: Sequence[Any], edge_sip: tuple[str, int]) -> list[Packet]:
    first = _timeline(facts)
    invite = first.get(m.CallInviteReceived)
    if invite is None:
        raise ExportError("the call has no CallInviteReceived")
    caller = _addr(invite.remote_addr, DEFAULT_SIP_PORT) or ("192.0.2.1", DEFAULT_SIP_PORT)
    out: list[Packet] = []
    raw = scrub_raw(invite.raw_invite) if invite.raw_invite else b""
    if raw:
        out.append(Packet(invite.occurred_at.timestamp(), caller, edge_sip, raw, "SIP INVITE as received"))
    text = raw.decode("utf-8", "replace")
    answered, established, ended = (
        first.get(m.CallAnswered),
        first.get(m.CallEstablished),
        first.get(m.CallEnded),
    )
    if answered is not None and text:
        sdp = plain_rtp_sdp(scrub_sdp(answered.sdp_answer))
        ok = _sip("SIP/2.0 200 OK", text, ["Content-Type: application/sdp"], sdp)
        out.append(
            Packet(answered.occurred_at.timestamp(), edge_sip, caller, ok, "rebuilt from CallAnswered")
        )
    if established is not None and text:
        number = (_header(text, "CSeq") or "1").split()[0]
        ack = _sip(f"ACK {invite.to_uri} SIP/2.0", text, [], cseq=f"{number} ACK")
        out.append(
            Packet(established.occurred_at.timestamp(), caller, edge_sip, ack, "rebuilt from CallEstablished")
        )
    if ended is not None and text and answered is not None:
        from_caller = ended.hangup_by == "caller"
        bye = _sip(
            f"BYE {invite.from_uri if not from_caller else invite.to_uri} SIP/2.0", text, [], cseq="2 BYE"
        )
        src, dst = (caller, edge_sip) if from_caller else (edge_sip, caller)
        out.append(Packet(ended.occurred_at.timestamp(), src, dst, bye, "rebuilt from CallEnded"))
        ok = _sip("SIP/2.0 200 OK", text, [], cseq="2 BYE")
        out.append(Packet(ended.occurred_at.timestamp() + 0.001, dst, src, ok, "rebuilt from CallEnded"))
    return out


def _plain_rtp_message(message: bytes) -> bytes:
    """A SIP message whose SDP offers SRTP, with the SDP as plain RTP and its Content-Length to match."""
    head, sep, body = message.partition(b"\r\n\r\n")
    if not sep or b"RTP/SAVP" not in body:
        return message
    plain = plain_rtp_sdp(body.decode("latin-1")).encode("latin-1")
    head = _CONTENT_LENGTH.sub(b"\\g<1>" + str(len(plain)).encode(), head)
    return head + sep + plain


def recorded_sip(facts: Sequence[Any]) -> list[Packet]:
    """The call's SIP messages as the edge recorded them (none for a call recorded without its ladder)."""
    out: list[Packet] = []
    for fact in facts:
        if not isinstance(fact, m.SipMessageObserved) or fact.truncated or not fact.raw:
            continue
        local, remote = _addr(fact.local_addr, DEFAULT_SIP_PORT), _addr(fact.remote_addr, DEFAULT_SIP_PORT)
        if local is None or remote is None:
            continue
        src, dst = (remote, local) if fact.direction == "in" else (local, remote)
        cut = f", cut: {len(fact.raw)} of {fact.size} bytes" if fact.size > len(fact.raw) else ""
        payload = scrub_raw(fact.raw)
        plain = _plain_rtp_message(payload)
        if plain != payload:
            payload, cut = plain, f"{cut}, SDP shown as plain RTP"
        comment = f"{RECORDED_SIP} (SipMessageObserved #{fact.seq}, {fact.direction}{cut})"
        out.append(Packet(fact.occurred_at.timestamp(), src, dst, payload, comment))
    return out


def _to_8k(pcm: bytes, rate: int) -> np.ndarray:
    samples = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.int16)
    return resample(samples, rate, RATE) if rate != RATE else samples


@dataclass(frozen=True, slots=True)
class Speech:
    at: float  # when it starts, seconds since the epoch
    pcm: np.ndarray  # 8 kHz int16
    caller: bool
    label: str


def speech_of(facts: Sequence[Any]) -> tuple[float, list[Speech]]:
    """(the answer time, each side's recorded audio at its time)."""
    first = _timeline(facts)
    answered = first.get(m.CallAnswered)
    if answered is None:
        raise ExportError("the call was never answered: no media to export")
    t0 = answered.occurred_at.timestamp()
    started = {f.playback_id: f.occurred_at for f in facts if isinstance(f, m.PlaybackStarted)}
    out: list[Speech] = []
    for fact in facts:
        if isinstance(fact, m.UtteranceCaptured) and fact.pcm:
            pcm = _to_8k(fact.pcm, fact.sample_rate)
            out.append(Speech(t0 + fact.start_ms / 1000, pcm, True, f"UtteranceCaptured {fact.utterance_id}"))
        elif isinstance(fact, m.SpeechSynthesized) and fact.pcm:
            when: datetime = started.get(fact.reply_id, fact.occurred_at)
            pcm = _to_8k(fact.pcm, fact.sample_rate)
            out.append(Speech(when.timestamp(), pcm, False, f"SpeechSynthesized {fact.reply_id}"))
    return t0, out


def _rtp_packets(
    speech: Sequence[Speech], t0: float, caller: tuple[str, int], edge: tuple[str, int]
) -> list[Packet]:
    out: list[Packet] = []
    seq = {True: 0, False: 0}
    ssrc = {True: 0x5E471C01, False: 0x5E471C02}
    for s in sorted(speech, key=lambda s: s.at):
        payload = ulaw_encode(s.pcm)
        base = round((s.at - t0) * RATE)
        for i in range(0, len(payload), SAMPLES):
            rtp = RtpPacket(PCMU, seq[s.caller] & 0xFFFF, (base + i) & 0xFFFFFFFF, ssrc[s.caller],
                            payload[i : i + SAMPLES], marker=i == 0)  # fmt: skip
            seq[s.caller] += 1
            src, dst = (caller, edge) if s.caller else (edge, caller)
            out.append(Packet(s.at + i / RATE, src, dst, bytes(rtp), f"RTP rebuilt from {s.label}"))
    return out


def packets_of(facts: Sequence[Any]) -> list[Packet]:
    """The call's SIP (recorded, else rebuilt) and RTP (rebuilt), in time order."""
    first = _timeline(facts)
    invite, port = first.get(m.CallInviteReceived), first.get(m.MediaPortAllocated)
    answered = first.get(m.CallAnswered)
    edge_host = port.local_address if port is not None else "127.0.0.1"
    to_host = _addr((invite.to_uri.split("@")[-1].split(";")[0]) if invite else None, DEFAULT_SIP_PORT)
    edge_sip = (edge_host, to_host[1] if to_host else DEFAULT_SIP_PORT)
    out = recorded_sip(facts) or _sip_packets(facts, edge_sip)
    t0, speech = speech_of(facts)
    caller_media = (
        _addr(answered.remote_rtp_addr, 0) if answered is not None and answered.remote_rtp_addr else None
    ) or _sdp_media_addr(invite.sdp_offer if invite else None)
    if caller_media is None:
        caller_media = ((_addr(invite.remote_addr, 0) if invite else None) or ("192.0.2.1", 0))[0], 40000
    edge_media = (edge_host, port.rtp_port if port is not None else 20000)
    out += _rtp_packets(speech, t0, caller_media, edge_media)
    return sorted(out, key=lambda p: p.at)


# --- pcapng --------------------------------------------------------------------------------------------


def _ip4(text: str) -> bytes:
    try:
        parts = bytes(int(x) for x in text.split("."))
    except ValueError:
        parts = b""
    return parts if len(parts) == 4 else bytes([127, 0, 0, 1])


def _checksum(data: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def frame(packet: Packet, ident: int) -> bytes:
    """Ethernet II + IPv4 + UDP (checksum 0: none, allowed over IPv4) around the payload."""
    udp = struct.pack("!HHHH", packet.src[1], packet.dst[1], 8 + len(packet.payload), 0) + packet.payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ident & 0xFFFF, 0x4000, 64, 17, 0,
                     _ip4(packet.src[0]), _ip4(packet.dst[0]))  # fmt: skip
    ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00" + ip + udp


def _pad(data: bytes) -> bytes:
    return data + b"\x00" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


def pcapng_bytes(packets: Sequence[Packet]) -> bytes:
    end = struct.pack("<HH", 0, 0)
    recorded = any(p.comment.startswith(RECORDED_SIP) for p in packets)
    comment = RECORDED_COMMENT if recorded else SECTION_COMMENT
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _option(1, comment.encode()) + end
    idb = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 0) + _option(9, b"\x06") + end  # microseconds
    out = [_block(0x0A0D0D0A, shb), _block(1, idb)]
    for i, packet in enumerate(packets):
        data = frame(packet, i)
        ts = int(packet.at * 1_000_000)
        head = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data))
        out.append(_block(6, head + _pad(data) + _option(1, packet.comment.encode()) + end))
    return b"".join(out)


def wav_bytes(facts: Sequence[Any]) -> bytes:
    """Stereo 8 kHz: the caller left, the agent right, from the answer to the last audio."""
    t0, speech = speech_of(facts)
    ends = [round((s.at - t0) * RATE) + s.pcm.size for s in speech]
    ended = next((f for f in facts if isinstance(f, m.CallEnded)), None)
    total = max([*ends, round((ended.occurred_at.timestamp() - t0) * RATE) if ended else 0, 0])
    track = np.zeros((total, 2), dtype=np.int16)
    for s in speech:
        start = max(0, round((s.at - t0) * RATE))
        pcm = s.pcm[: max(0, total - start)]
        track[start : start + pcm.size, 0 if s.caller else 1] = pcm
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(track.astype("<i2").tobytes())
    return buf.getvalue()


def decoded_rtp(payloads: Sequence[bytes]) -> np.ndarray:
    """µ-law payloads back to PCM (for tests and checks)."""
    return np.concatenate([ulaw_decode(p) for p in payloads]) if payloads else np.zeros(0, np.int16)
