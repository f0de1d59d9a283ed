"""Avro single-object encode + decode throughput on one core, for typical call facts.

.venv/bin/python bench/avro_codec.py
"""

from __future__ import annotations

import time

from schemas import models
from schemas.codec import decode, encode
from schemas.envelope import envelope


def typical_facts() -> dict[str, object]:
    env = envelope("5e171c00-0000-4000-8000-000000000001", seq=7, source="edge-1")
    return {
        "CallEnded": models.CallEnded(
            **env,
            reason="caller_bye",
            hangup_by="caller",
            sip_status=200,
            setup_ms=3.2,
            talk_ms=61_000,
            total_ms=61_500,
        ),
        "CallInviteReceived": models.CallInviteReceived(
            **env,
            sip_call_id="a84b4c76e66710@pc33.example.com",
            from_uri="sip:+905551234567@trunk.example.com",
            to_uri="sip:+902121234567@sentiric.example.com",
            caller="+905551234567",
            callee="+902121234567",
            remote_addr="203.0.113.7:5060",
            transport="udp",
            sdp_offer="v=0\r\n" * 30,
            user_agent="Asterisk PBX",
        ),
        "UtteranceCaptured (2 s PCM 8 kHz)": models.UtteranceCaptured(
            **env,
            utterance_id="u1",
            sample_rate=8000,
            pcm=bytes(32_000),
            start_ms=1000,
            end_ms=3000,
        ),
    }


def measure(record: object, seconds: float = 1.5) -> tuple[float, float, float]:
    data = encode(record)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            encode(record)
        n += 200
    enc = n / (time.perf_counter() - t0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            decode(data)
        n += 200
    dec = n / (time.perf_counter() - t0)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(200):
            decode(encode(record))
        n += 200
    both = n / (time.perf_counter() - t0)
    return enc, dec, both


def main() -> None:
    print("Avro single-object encoding, one core (events/s)")
    for name, record in typical_facts().items():
        enc, dec, both = measure(record)
        print(
            f"  {name:<36} {len(encode(record)):>6} B  encode {enc:>9,.0f}/s  decode {dec:>9,.0f}/s  "
            f"encode+decode {both:>9,.0f}/s"
        )


if __name__ == "__main__":
    main()
