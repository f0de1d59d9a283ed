"""The /ws wire format: client frame validation, limits, server message encoding (round trips)."""

from __future__ import annotations

import json

import pytest

from edge.ws import protocol as p

LIMITS = p.Limits()

SERVER_SAMPLES: list[p.ServerMessage] = [
    p.SessionInfo("c-1"),
    p.SpeechDetected("u-1", 180),
    p.Transcript("u-1", "what are your opening hours", True),
    p.Reply("r-1", "We are open from nine to five.", False),
    p.StateChange("LISTENING", "THINKING", 1),
    p.PlaybackEvent("r-1", "stopped", 3000, 1234),
    p.Hangup("dialog_complete"),
    p.Pong(),
    p.Error("bad_json", "text frame is not valid JSON"),
]


@pytest.mark.parametrize("message", SERVER_SAMPLES, ids=lambda m: m.TYPE)
def test_server_messages_round_trip(message: p.ServerMessage) -> None:
    data = bytes(message)
    assert json.loads(data)["type"] == message.TYPE
    assert p.parse_server(data) == message
    assert type(message).parse(data) == message
    assert bytes(p.parse_server(data)) == data


def test_server_message_encoding_is_compact_utf8() -> None:
    assert (
        bytes(p.Reply("r", "Grüße", True))
        == '{"type":"reply","reply_id":"r","text":"Grüße","end":true}'.encode()
    )
    assert str(p.Pong()) == '{"type":"pong"}'


def test_parse_checks_the_expected_class() -> None:
    with pytest.raises(p.WsProtocolError, match="expected a 'reply' message, got 'pong'"):
        p.Reply.parse(b'{"type":"pong"}')


@pytest.mark.parametrize(
    ("frame", "code", "message"),
    [
        ("nope", "bad_json", "text frame is not valid JSON"),
        ("[1, 2]", "bad_json", "text frame must be a JSON object"),
        ('{"text": "hi"}', "bad_type", "message has no string 'type'"),
        ('{"type": 7}', "bad_type", "message has no string 'type'"),
        ('{"type": "dance"}', "bad_type", "unknown message type 'dance'; expected one of hangup, ping, text"),
        ('{"type": "text"}', "bad_field", "text message needs field 'text'"),
        ('{"type": "text", "text": 5}', "bad_field", "text field 'text' has the wrong type"),
        ('{"type": "text", "text": "   "}', "bad_field", "text message is empty"),
        ("[" * 2100, "bad_json", "text frame nests too deeply"),
        ("[" * 1050 + "]" * 1050, "bad_json", "text frame nests too deeply"),
        ('{"type": "text", "text": "\\ud800"}', "bad_field", "text is not valid Unicode (a lone surrogate)"),
        (
            '{"type": "text", "text": "a\\udc80b"}',
            "bad_field",
            "text is not valid Unicode (a lone surrogate)",
        ),
        (b"", "bad_audio", "audio frame is empty"),
        (b"\x01\x02\x03", "bad_audio", "audio frame must hold whole 16-bit samples (even length)"),
    ],
)
def test_bad_client_frames(frame: str | bytes, code: str, message: str) -> None:
    with pytest.raises(p.WsProtocolError) as info:
        p.parse_client(frame, LIMITS)
    assert info.value.code == code
    assert str(info.value) == message


def test_client_messages() -> None:
    assert p.parse_client('{"type": "text", "text": "  where are you  "}', LIMITS) == p.TextInput(
        "where are you"
    )
    assert p.parse_client('{"type":"ping"}', LIMITS) == p.Ping()
    assert p.parse_client('{"type":"hangup","extra":1}', LIMITS) == p.HangupRequest()
    pcm = bytes(range(256)) * 4
    assert p.parse_client(pcm, LIMITS) == p.AudioFrame(pcm)
    assert p.parse_client(bytearray(pcm), LIMITS) == p.AudioFrame(pcm)
    assert p.AudioFrame(pcm).duration_ms == 32.0


@pytest.mark.parametrize(
    "message", [p.TextInput("hello"), p.Ping(), p.HangupRequest(), p.AudioFrame(b"\x00\x01" * 320)]
)
def test_client_encoding_round_trips(message: p.ClientMessage) -> None:
    assert p.parse_client(p.encode_client(message), LIMITS) == message


def test_frame_size_limits() -> None:
    limits = p.Limits(max_frame_bytes=1280, max_text_chars=10)
    assert p.parse_client(b"\x00" * 1280, limits).pcm == b"\x00" * 1280  # type: ignore[union-attr]
    with pytest.raises(p.WsProtocolError, match="audio frame of 1282 bytes exceeds 1280") as info:
        p.parse_client(b"\x00" * 1282, limits)
    assert info.value.code == "too_big"
    with pytest.raises(p.WsProtocolError, match="text of 11 characters exceeds 10"):
        p.parse_client(json.dumps({"type": "text", "text": "x" * 11}), limits)
    with pytest.raises(p.WsProtocolError, match="text frame of 211 characters exceeds 210") as info:
        p.parse_client(" " * 211, limits)
    assert info.value.code == "too_long"


def test_limits_validation_and_budget() -> None:
    assert p.Limits(max_session_audio_s=1.5).max_session_bytes == 48_000
    with pytest.raises(ValueError, match="max_frame_bytes must be at least 640"):
        p.Limits(max_frame_bytes=100)
    with pytest.raises(ValueError, match="must be positive"):
        p.Limits(idle_timeout_s=0)


def test_close_reason_fits_a_close_frame() -> None:
    assert p.close_reason("idle") == "idle"
    long = p.close_reason("é" * 100)
    assert len(long.encode()) <= p.MAX_REASON_BYTES and long == "é" * 61


def test_every_truncated_prefix_of_a_message_is_an_error_not_a_crash() -> None:
    frame = str(p.TextInput("what are your opening hours"))
    for end in range(len(frame)):
        with pytest.raises(p.WsProtocolError):
            p.parse_client(frame[:end], LIMITS)
    for end in range(1, len(bytes(p.Reply("r", "x")))):
        with pytest.raises(p.WsProtocolError):
            p.parse_server(bytes(p.Reply("r", "x"))[:end])
