"""The fact recorder is the one door of wire text to the log: every fact it emits is storable by every
consumer, its SDPs and raw SIP copies carry no SRTP key, and a hostile INVITE is recorded in full."""

from __future__ import annotations

import base64

from edge import call_facts as cf
from edge.facts import FactRecorder, ListPublisher
from edge.media.srtp import CryptoAttribute
from edge.redact import RAW_INVITE_BOUND, REDACTED
from schemas import models
from schemas.codec import decode, encode
from schemas.wiretext import FIELD_BOUNDS
from tests.support.uas_harness import OFFER, PHONE, make_edge

HOSTILE = "\x00\udcff\ud800\x07\x1b[31m" + "x" * 20_000


def recorder() -> tuple[FactRecorder, ListPublisher]:
    publisher = ListPublisher()
    return FactRecorder(publisher, "edge-test"), publisher


def test_text_fields_are_made_safe_and_the_fact_round_trips():
    rec, _ = recorder()
    fact = rec.record(
        cf.call_invite_received(
            "c1",
            sip_call_id=HOSTILE,
            from_uri=HOSTILE,
            to_uri=HOSTILE,
            caller=HOSTILE,
            callee=HOSTILE,
            remote_addr="127.0.0.1:5060",
            transport="udp",
            sdp_offer=HOSTILE,
            user_agent=HOSTILE,
        )
    )
    for name in ("sip_call_id", "from_uri", "to_uri", "caller", "callee", "sdp_offer", "user_agent"):
        value = getattr(fact, name)
        assert value.startswith("\\x00\\xff\ufffd\\x07\\x1b[31m"), name
        assert len(value) == FIELD_BOUNDS[name], name
    assert fact.remote_addr == "127.0.0.1:5060"  # clean text is left alone
    assert decode(encode(fact)) == fact


def test_typed_and_spoken_text_is_made_safe():
    rec, _ = recorder()
    fact = rec.record(cf.utterance_captured(
        "c1", utterance_id="u1", sample_rate=8000, pcm=b"\x00\x01",
        start_ms=0, end_ms=20, text="hello\x00\nworld",
    ))  # fmt: skip
    assert fact.text == "hello\\x00\nworld"
    assert fact.pcm == b"\x00\x01"  # audio bytes are not text: untouched


def test_sdp_fields_and_raw_copies_lose_their_keys():
    rec, _ = recorder()
    ours, theirs = CryptoAttribute.generate(1), CryptoAttribute.generate(1)
    answer = f"v=0\r\nm=audio 4000 RTP/SAVP 0\r\na=crypto:{ours}\r\n"
    offer = f"v=0\r\nm=audio 5000 RTP/SAVP 0\r\na=crypto:{theirs}\r\n"
    answered = rec.record(cf.call_answered("c1", codec="PCMU", payload_type=0, sdp_answer=answer))
    invited = rec.record(cf.call_invite_received(
        "c1", sip_call_id="x", from_uri="sip:a@b", to_uri="sip:c@d",
        caller="a", callee="c", remote_addr="b:1", transport="udp", sdp_offer=offer,
        raw_invite=b"INVITE sip:c@d SIP/2.0\r\n\r\n" + offer.encode() + b"\xff" * 20_000,
    ))  # fmt: skip
    for key, fact in ((ours, answered), (theirs, invited)):
        b64 = base64.b64encode(key.key_salt).decode()
        assert b64 not in encode(fact).decode("latin-1")
        assert b64[:12] not in encode(fact).decode("latin-1")
    assert f"inline:{REDACTED}" in answered.sdp_answer and f"inline:{REDACTED}" in invited.sdp_offer
    assert len(invited.raw_invite) == RAW_INVITE_BOUND and invited.raw_invite.endswith(b"\xff")


def test_the_core_records_a_hostile_invite_whole_and_safe():
    edge = make_edge()
    key = CryptoAttribute.generate(1)
    body = OFFER.replace(b"RTP/AVP", b"RTP/SAVP") + f"a=crypto:{key}\r\n".encode()
    datagram = (
        b"INVITE sip:%00%FF100@192.0.2.1 SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKhostile\r\n"
        b'From: "\x07ev\xffil" <sip:%00@192.0.2.10>;tag=t1\r\n'
        b"To: <sip:100@192.0.2.1>\r\n"
        b"Call-ID: hostile\x01@192.0.2.10\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Contact: <sip:alice@192.0.2.10:5062>\r\n"
        b"User-Agent: agent\x00\xc3\x28 " + b"U" * 2000 + b"\r\n"
        b"Content-Type: application/sdp\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    edge.core.receive(datagram, PHONE, 0.0)
    (invite,) = [f for f in edge.facts() if isinstance(f, models.CallInviteReceived)]
    assert invite.callee == "\\x00\\xff100"
    assert invite.caller == "\\x00"
    assert invite.sip_call_id == "hostile\\x01@192.0.2.10"
    assert (
        invite.user_agent.startswith("agent\\x00\\xc3(")
        and len(invite.user_agent) == FIELD_BOUNDS["user_agent"]
    )
    assert invite.raw_invite == datagram.replace(key.key_params.encode(), f"inline:{REDACTED}".encode())
    assert decode(encode(invite)) == invite
    # and the call goes on like any other: answered, with its (scrubbed) SRTP answer on the log
    assert edge.names() == ["CallInviteReceived", "DialplanResolved", "MediaPortAllocated", "CallAnswered"]
    assert f"inline:{REDACTED}" in edge.facts()[-1].sdp_answer


def test_the_recorder_stamps_the_envelope_in_one_place() -> None:
    rec, publisher = recorder()
    rec.set_trace("c1", "trace-1")
    built = cf.call_established("c1", ack_delay_ms=1.5)
    first, second = rec.record(built), rec.record(cf.call_ended("c1", reason="normal", hangup_by="caller",
                                                                   sip_status=200, total_ms=10))  # fmt: skip
    assert built.event_id == cf.UNSTAMPED_ID and built.seq == 0  # what the engines hand out: unstamped
    assert (first.seq, second.seq) == (1, 2) and first.event_id != second.event_id != cf.UNSTAMPED_ID
    assert first.source == "edge-test" and first.trace_id == "trace-1" and first.occurred_at > cf.UNSTAMPED_AT
    assert first.ack_delay_ms == 1.5 and publisher.records == [first, second]
    rec.forget("c1")
    assert rec.record(built).seq == 1 and rec.record(built).trace_id == "c1"
