"""TCP stream framing."""

from pathlib import Path

import pytest

from edge.sip.errors import SipParseError
from edge.sip.framing import KeepAlivePing, StreamFramer
from edge.sip.message import parse_message

CAPTURED = Path(__file__).parents[3] / "fixtures" / "sip" / "captured"
INVITE = (CAPTURED / "linphone_invite.sip").read_bytes()
BYE = (CAPTURED / "sipp_uac_bye.sip").read_bytes()


def test_split_stream_byte_by_byte_with_keepalives() -> None:
    stream = b"\r\n\r\n" + INVITE + b"\r\n" + BYE + b"\r\n\r\n"
    framer = StreamFramer()
    out = []
    for i in range(len(stream)):
        out.extend(framer.feed(stream[i : i + 1]))
    assert out == [KeepAlivePing(), INVITE, BYE, KeepAlivePing()]
    assert framer.buffered == 0
    assert parse_message(out[1]).call_id == "qPGPUSu3o4"


def test_two_messages_in_one_read() -> None:
    assert StreamFramer().feed(INVITE + BYE) == [INVITE, BYE]


def test_missing_content_length_is_fatal_on_streams() -> None:
    no_cl = b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n"
    with pytest.raises(SipParseError, match="missing Content-Length"):
        StreamFramer().feed(no_cl)


def test_oversized_message_rejected() -> None:
    with pytest.raises(SipParseError, match="exceeds"):
        StreamFramer(max_message=100).feed(INVITE)
    with pytest.raises(SipParseError, match="exceed"):
        StreamFramer(max_message=100).feed(b"X" * 200)
