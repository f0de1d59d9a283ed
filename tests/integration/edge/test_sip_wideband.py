"""Wideband codecs through the SIP side: sipp offering only G.722 (static payload type 9) is answered
with G.722, and the call's facts say so."""

from __future__ import annotations

from pathlib import Path

from schemas import models
from tests.support.sipp import SCENARIOS, run_sipp

from .conftest import BASIC, StartEdge, node_facts, sip_names, sip_only


def g722_scenario(workdir: Path) -> Path:
    """``uac_srtp.xml`` turned into a plain call whose offer is ``m=audio … RTP/AVP 9`` only."""
    text = (SCENARIOS / "uac_srtp.xml").read_text()
    text = text.replace("m=audio [rtp_port] RTP/SAVP 0 101", "m=audio [media_port] RTP/AVP 9")
    text = text.replace("      a=rtpmap:0 PCMU/8000\n", "      a=rtpmap:9 G722/8000\n")
    text = text.replace("      a=rtpmap:101 telephone-event/8000\n", "")
    text = text.replace("      a=crypto:[crypto]\n", "")
    assert "RTP/AVP 9" in text and "crypto" not in text.split("<![CDATA[")[1].split("]]>")[0]
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "uac_g722.xml"
    path.write_text(text)
    return path


async def test_g722_only_offer_is_answered_with_g722(
    start_edge: StartEdge, kafka: str, tmp_path: Path
) -> None:
    app = await start_edge()
    scenario = g722_scenario(tmp_path / "scenario")
    result = await run_sipp(app.sip_port, tmp_path, scenario=str(scenario), extra=["-d", "300"])
    assert result.returncode == 0, result.describe()
    assert result.last("SuccessfulCall(C)") == 1
    (records,) = (await node_facts(app, kafka, 1)).values()
    assert sip_names(records) == BASIC
    (answered,) = [r for r in sip_only(records) if isinstance(r, models.CallAnswered)]
    assert answered.codec == "G722" and answered.payload_type == 9
    assert "m=audio" in answered.sdp_answer and "RTP/AVP 9\r\n" in answered.sdp_answer
    assert "a=rtpmap:9 G722/8000" in answered.sdp_answer
    quality = [r for r in records if isinstance(r, models.MediaQualityReported) and r.final]
    assert len(quality) == 1  # the G.722 media session ran and closed
