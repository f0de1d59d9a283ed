"""What making wire text safe costs: per field, per SDP scrub, per fact at the edge's recorder, and per
record at the projector (NUL escaping).

.venv/bin/python bench/wiretext.py

"before" is the recorder as it was (stamp the envelope, build the model, publish); "after" adds the
key scrubbing and text sanitizing `FactRecorder.emit` now does. Clean facts are the normal case;
hostile ones (NUL, controls, invalid octets, oversized) are what an attacker sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edge import call_facts as cf
from edge.facts import FactRecorder, ListPublisher
from edge.media.srtp import CryptoAttribute
from edge.redact import scrub_raw, scrub_sdp
from projections.store import without_nul
from schemas import models
from schemas.envelope import CallSequencer, envelope
from schemas.wiretext import safe_field

SDP = (
    "v=0\r\no=- 3902812345 3902812345 IN IP4 203.0.113.7\r\ns=Asterisk\r\nc=IN IP4 203.0.113.7\r\n"
    "t=0 0\r\nm=audio 18264 RTP/AVP 0 8 9 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
    "a=maxptime:150\r\na=sendrecv\r\n"
)
SRTP_SDP = SDP.replace("RTP/AVP", "RTP/SAVP") + f"a=crypto:1 {CryptoAttribute.generate(1)}\r\n"
INVITE = (
    "INVITE sip:+902121234567@sentiric.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bK776asdhds\r\n"
    "From: <sip:+905551234567@trunk.example.com>;tag=1928301774\r\n"
    "To: <sip:+902121234567@sentiric.example.com>\r\nCall-ID: a84b4c76e66710@pc33.example.com\r\n"
    "CSeq: 1 INVITE\r\nContact: <sip:+905551234567@203.0.113.7:5060>\r\nMax-Forwards: 70\r\n"
    "User-Agent: Asterisk PBX 18.10.0\r\nContent-Type: application/sdp\r\n"
    f"Content-Length: {len(SRTP_SDP)}\r\n\r\n{SRTP_SDP}"
).encode()


def invite_fields(hostile: bool) -> dict[str, Any]:
    bad = "\x00\udcff\x07" if hostile else ""
    return {
        "sip_call_id": "a84b4c76e66710@pc33.example.com" + bad,
        "from_uri": "sip:+905551234567@trunk.example.com" + bad,
        "to_uri": "sip:+902121234567@sentiric.example.com",
        "caller": "+905551234567" + bad,
        "callee": "+902121234567",
        "remote_addr": "203.0.113.7:5060",
        "transport": "udp",
        "sdp_offer": SRTP_SDP + ("s=" + bad * 2000 if hostile else ""),
        "user_agent": "Asterisk PBX 18.10.0" + (bad * 300 if hostile else ""),
        "raw_invite": INVITE,
    }


QUALITY = {
    "mos": 4.3,
    "r_factor": 90.1,
    "loss_fraction": 0.0,
    "jitter_ms": 2.5,
    "rtt_ms": 12.0,
    "packets_received": 1500,
    "packets_lost": 0,
    "final": False,
}


class OldRecorder:
    """The recorder before wire text was made safe: envelope, model, publish."""

    def __init__(self) -> None:
        self._publisher = ListPublisher()
        self._seq = CallSequencer()

    def emit(self, call_id: str, model: type[Any], **fields: Any) -> Any:
        record = model(**envelope(call_id, seq=self._seq.next(call_id), source="edge-1"), **fields)
        self._publisher.publish(record)
        return record


def per_call_us(fn: Callable[[], Any], seconds: float = 1.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            fn()
        n += 200
    return (time.perf_counter() - t0) / n * 1e6


def recorder_rows() -> list[tuple[str, float, float]]:
    rows = []
    for name, model, build, fields in (
        ("CallInviteReceived, clean (SRTP SDP, raw INVITE)", models.CallInviteReceived,
         cf.call_invite_received, invite_fields(False)),
        ("CallInviteReceived, hostile (NUL, controls, 9 KB)", models.CallInviteReceived,
         cf.call_invite_received, invite_fields(True)),
        ("MediaQualityReported (numbers only)", models.MediaQualityReported,
         cf.media_quality_reported, QUALITY),
    ):  # fmt: skip
        old, new = OldRecorder(), FactRecorder(ListPublisher(), "edge-1")
        before = per_call_us(lambda old=old, model=model, fields=fields: old.emit("c1", model, **fields))
        # now: the typed builder (an unstamped fact), then the recorder (safe text, envelope, publish)
        after = per_call_us(lambda new=new, build=build, fields=fields: new.record(build("c1", **fields)))
        old._publisher.records.clear()
        rows.append((name, before, after))
    return rows


def main() -> None:
    print("Wire text made safe (µs per call, one core)")
    for label, fn in (
        ("safe_field caller (clean)", lambda: safe_field("caller", "+905551234567")),
        ("safe_field user_agent (clean)", lambda: safe_field("user_agent", "Asterisk PBX 18.10.0")),
        ("safe_field sdp_offer (clean, 330 B)", lambda: safe_field("sdp_offer", SDP)),
        ("safe_field caller (NUL + invalid octet)", lambda: safe_field("caller", "\x00\udcff+9055")),
        ("scrub_sdp (no key)", lambda: scrub_sdp(SDP)),
        ("scrub_sdp (one a=crypto)", lambda: scrub_sdp(SRTP_SDP)),
        (f"scrub_raw ({len(INVITE)} B INVITE with a=crypto)", lambda: scrub_raw(INVITE)),
    ):
        print(f"  {label:<48} {per_call_us(fn):>8.2f}")
    print("Per fact (µs): unguarded recorder → builder + FactRecorder.record")
    for name, before, after in recorder_rows():
        print(f"  {name:<48} {before:>8.2f} → {after:>8.2f}  (+{after - before:.2f})")
    clean = models.CallEnded(
        **envelope("c1", seq=9, source="edge-1"), reason="caller_bye", hangup_by="caller", sip_status=200,
        setup_ms=3.2, talk_ms=61_000, total_ms=61_500,
    )  # fmt: skip
    print("Projector, per record (µs)")
    print(f"  {'without_nul (CallEnded, no NUL)':<48} {per_call_us(lambda: without_nul(clean)):>8.2f}")


if __name__ == "__main__":
    main()
