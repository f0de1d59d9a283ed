"""A call's quality report: the RTCP compound it sends (RFC 3550 §6.4) and the ``MediaQualityReported``
figures (RFC 3550 statistics through the ITU-T G.107 E-model). Pure: time comes in as arguments.

``MediaQualityReported`` with nothing received carries ``mos=0.0`` and ``r_factor=0.0``: the schema
requires both, and 0 means "no media measured" (a real E-model estimate is never below 1.0 MOS).

The one-way delay fed to the E-model is half the RTT (0 before one is measured) plus the jitter
buffer's playout delay plus twice the interarrival jitter (what a buffer sized for it would add).
"""

from __future__ import annotations

import math
from typing import Any, TypedDict

from edge.media.quality.emodel import r_factor
from edge.media.quality.stats import ReceiverStats
from edge.media.rtp.rtcp import (
    Bye,
    ReceiverReport,
    SenderReport,
    SourceDescription,
    ntp_from_unix,
    serialize_compound,
)
from edge.media.rtp.sender import RtpSender


def rtcp_compound(
    sender: RtpSender,
    stats: ReceiverStats | None,
    cname: str,
    *,
    now: float,
    wall: float,
    bye: bool = False,
) -> bytes:
    """SR (once we have sent media) or RR, with one report block about the caller's stream if any, then
    SDES CNAME, then BYE at the end of the call. ``now`` is monotonic (the RTP timestamp and the DLSR
    are measured on it); ``wall`` is the same instant as Unix time (the SR's NTP timestamp)."""
    blocks = (stats.report_block(now),) if stats is not None else ()
    packets: list[Any] = []
    if sender.packet_count:
        packets.append(
            SenderReport(
                sender.ssrc,
                ntp_from_unix(wall),
                sender.rtp_timestamp_at(now),
                sender.packet_count,
                sender.octet_count,
                blocks,
            )
        )
    else:
        packets.append(ReceiverReport(sender.ssrc, blocks))
    packets.append(SourceDescription.cname_for(sender.ssrc, cname))
    if bye:
        packets.append(Bye((sender.ssrc,)))
    return serialize_compound(packets)


class QualityFigures(TypedDict):
    """``MediaQualityReported``'s figures, typed (so ``media_quality_reported(**figures)`` is checked)."""

    packets_received: int
    packets_lost: int
    loss_fraction: float
    jitter_ms: float
    rtt_ms: float | None
    r_factor: float
    mos: float


def quality_fields(
    stats: ReceiverStats | None, rtt_s: float | None, playout_delay_s: float
) -> QualityFigures:
    """The fields of ``MediaQualityReported`` (all but ``final``) for the call so far."""
    if stats is None:
        received = lost = 0
        loss = jitter_ms = 0.0
    else:
        snap = stats.snapshot()
        received, lost, loss, jitter_ms = (
            snap.received,
            max(0, snap.cumulative_lost),
            snap.fraction_lost,
            snap.jitter_ms,
        )
    rtt_ms = None if rtt_s is None else rtt_s * 1000
    if received == 0:  # nothing measured: 0 stands for "no media", not a perfect-line estimate
        return {
            "packets_received": 0,
            "packets_lost": lost,
            "loss_fraction": loss,
            "jitter_ms": jitter_ms,
            "rtt_ms": rtt_ms,
            "r_factor": 0.0,
            "mos": 0.0,
        }
    one_way = (rtt_ms or 0.0) / 2 + playout_delay_s * 1000 + 2 * jitter_ms
    model = r_factor(one_way, 100.0 * loss)
    return {
        "packets_received": received,
        "packets_lost": lost,
        "loss_fraction": loss,
        "jitter_ms": jitter_ms,
        "rtt_ms": rtt_ms,
        "r_factor": round(model.r, 2),
        "mos": round(model.mos, 3) if not math.isnan(model.mos) else 1.0,
    }
