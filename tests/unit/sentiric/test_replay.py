"""`sentiric replay call`'s text lines: the SIP ladder's rungs and the media-quality points."""

from __future__ import annotations

from schemas import models as m
from schemas.envelope import envelope
from sentiric.eventlog import topics
from sentiric.eventlog.consumer import Decoded
from sentiric.replay import format_line

CALL = "5e171c00-0000-4000-8000-000000000001"


def line(record: object) -> str:
    return format_line(Decoded(record, topics.CALLS, 0, 7, 0))


def rung(seq: int, direction: str, first: str, raw: bytes, size: int, truncated: bool = False) -> str:
    return line(
        m.SipMessageObserved(
            **envelope(CALL, seq=seq, source="edge-1"),
            direction=direction,
            transport="udp",
            local_addr="127.0.0.1:5060",
            remote_addr="127.0.0.1:5062",
            first_line=first,
            raw=raw,
            size=size,
            truncated=truncated,
        )
    )


def test_each_sip_message_is_an_arrow_and_its_first_line() -> None:
    invite = rung(2, "in", "INVITE sip:100@127.0.0.1 SIP/2.0", b"I" * 812, 812)
    ok = rung(3, "out", "SIP/2.0 200 OK", b"S" * 100, 4000)
    assert invite.split()[1:4] == ["fact", "#2", "SipMessageObserved"]  # the columns of every line
    assert invite.endswith(
        "SipMessageObserved     edge ◀── 127.0.0.1:5062  INVITE sip:100@127.0.0.1 SIP/2.0  (udp, 812 B)"
    )
    assert ok.endswith("edge ──▶ 127.0.0.1:5062  SIP/2.0 200 OK  (udp, 100 of 4000 B)")
    marker = rung(200, "in", "(cap reached)", b"", 300, truncated=True)
    assert marker.endswith("edge ─┄─ 127.0.0.1:5062  (cap reached)")


def test_each_quality_report_is_a_point_of_jitter_loss_and_mos() -> None:
    fields = dict(packets_received=597, packets_lost=3, loss_fraction=0.005, jitter_ms=1.25, r_factor=90.0)
    periodic = line(
        m.MediaQualityReported(**envelope(CALL, seq=9, source="edge-1"), final=False, mos=4.381, **fields)
    )
    final = line(
        m.MediaQualityReported(
            **envelope(CALL, seq=12, source="edge-1"), final=True, mos=4.2, rtt_ms=20.0, **fields
        )
    )
    assert periodic.split()[3] == "MediaQualityReported"
    assert periodic.endswith("jitter 1.2 ms  loss 0.5% (3 of 600)  MOS 4.38")
    assert final.endswith("jitter 1.2 ms  loss 0.5% (3 of 600)  MOS 4.20  rtt 20.0 ms  final")


def test_other_facts_keep_their_field_list() -> None:
    env = envelope(CALL, seq=5, source="edge-1")
    ended = line(m.CallEnded(**env, reason="caller_bye", hangup_by="caller", sip_status=200, total_ms=60))
    assert "reason=caller_bye" in ended and "hangup_by=caller" in ended
