"""The browser voice protocol on ``/ws``: typed messages, frame validation and limits (sans-IO).

One WebSocket connection is one call (RFC 6455; one message per frame, no extensions needed).
Full description, with examples, in ``edge/ws/PROTOCOL.md``.

Client → server
    binary  caller audio: signed 16-bit little-endian mono PCM at 16 kHz (``AUDIO_RATE``), any
            whole number of samples per frame (20-100 ms is typical), at most ``max_frame_bytes``.
    text    a JSON object with a ``type``:
            {"type": "text", "text": "what are your opening hours"}   a typed utterance
            {"type": "ping"}                                          answered by {"type": "pong"}
            {"type": "hangup"}                                        the caller ends the call

Server → client
    binary  the agent's synthesized speech, same format as the caller audio (16 kHz s16le mono),
            paced in real time a little ahead of the listener (see ``edge.ws.playout``).
    text    {"type": "session", "call_id", "sample_rate", "max_frame_bytes", "idle_timeout_s"}
            {"type": "speech", "utterance_id", "stream_ms"}                 the VAD heard the caller start
            {"type": "transcript", "utterance_id", "text", "final"}          UtteranceTranscribed
            {"type": "reply", "reply_id", "text", "end"}                     AgentReplied (subtitles)
            {"type": "state", "from_state", "to_state", "turn"}             DialogStateChanged
            {"type": "playback", "playback_id", "event", "duration_ms", "played_ms"}
                    event: "started" | "finished" | "stopped" (stopped: drop the queued audio now)
            {"type": "hangup", "reason"}                                     the agent ends the call
            {"type": "pong"}
            {"type": "error", "code", "message"}                             a bad frame; the call goes on

Closing (RFC 6455 section 7.4.1 status codes): 1000 after a hang-up by either side, 1001 when the
server shuts down, 1008 for an idle session or audio sent faster than real time, 1009 for an oversized
frame or a session over its audio budget.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar, Final

AUDIO_RATE: Final = 16000
SAMPLE_WIDTH: Final = 2  # bytes per sample: s16le
FRAME_MS: Final = 20  # the VAD's frame
FRAME_BYTES: Final = AUDIO_RATE * FRAME_MS // 1000 * SAMPLE_WIDTH  # 640

# RFC 6455 section 7.4.1 status codes.
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001
CLOSE_POLICY: Final = 1008
CLOSE_TOO_BIG: Final = 1009
CLOSE_INTERNAL: Final = 1011
DEFAULT_MAX_FRAME_BYTES: Final = 64 * 1024  # 2.048 s of audio in one frame
DEFAULT_IDLE_TIMEOUT_S: Final = 120.0
MAX_REASON_BYTES: Final = 123  # a close frame's payload is at most 125 bytes, 2 of them the code


class WsProtocolError(ValueError):
    """A client frame that is not a valid message; answered with an ``error`` message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    max_text_chars: int = 2000  # a typed utterance
    max_session_audio_s: float = 1800.0  # caller audio in one session (57.6 MB)
    max_audio_lead_s: float = 30.0  # caller audio may run this far ahead of the wall clock
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S  # no client frame for this long closes the session
    max_errors: int = 50  # bad frames tolerated in one session

    def __post_init__(self) -> None:
        if self.max_frame_bytes < FRAME_BYTES:
            raise ValueError(f"max_frame_bytes must be at least {FRAME_BYTES}")
        if self.idle_timeout_s <= 0 or self.max_session_audio_s <= 0:
            raise ValueError("idle_timeout_s and max_session_audio_s must be positive")

    @property
    def max_session_bytes(self) -> int:
        return int(self.max_session_audio_s * AUDIO_RATE) * SAMPLE_WIDTH


def close_reason(text: str) -> str:
    """``text`` cut to what fits a close frame (123 bytes of UTF-8)."""
    data = text.encode()[:MAX_REASON_BYTES]
    return data.decode("utf-8", "ignore")


# --- JSON messages ---


def _accepts(hint: Any, value: Any) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_accepts(h, value) for h in typing.get_args(hint))
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is type(None) or hint is None:
        return value is None
    return isinstance(value, hint)


def _decode(data: bytes | str, registry: dict[str, type[Any]], max_chars: int) -> Any:
    if len(data) > max_chars:
        raise WsProtocolError("too_long", f"text frame of {len(data)} characters exceeds {max_chars}")
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise WsProtocolError("bad_json", "text frame is not valid JSON") from None
    except RecursionError:  # "[[[[…" a thousand deep: the decoder's recursion limit, not a server error
        raise WsProtocolError("bad_json", "text frame nests too deeply") from None
    if not isinstance(obj, dict):
        raise WsProtocolError("bad_json", "text frame must be a JSON object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise WsProtocolError("bad_type", "message has no string 'type'")
    cls = registry.get(kind)
    if cls is None:
        expected = ", ".join(sorted(registry))
        raise WsProtocolError("bad_type", f"unknown message type {kind[:40]!r}; expected one of {expected}")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in obj:
            if f.default is MISSING:
                raise WsProtocolError("bad_field", f"{kind} message needs field {f.name!r}")
            continue
        value = obj[f.name]
        if not _accepts(hints[f.name], value):
            raise WsProtocolError("bad_field", f"{kind} field {f.name!r} has the wrong type")
        values[f.name] = value
    return cls(**values)


class Message:
    """A JSON text message: ``{"type": TYPE, <fields>}``; ``bytes(msg)`` is its UTF-8 JSON."""

    __slots__ = ()
    TYPE: ClassVar[str]
    REGISTRY: ClassVar[dict[str, type[Any]]]

    def __bytes__(self) -> bytes:
        body = {"type": self.TYPE, **asdict(self)}  # type: ignore[call-overload]  # every subclass is a dataclass
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    def __str__(self) -> str:
        return bytes(self).decode()

    @classmethod
    def parse(cls, data: bytes | str) -> Any:
        """The message in ``data``, which must be of this class."""
        message = _decode(data, cls.REGISTRY, 1 << 20)
        if not isinstance(message, cls):
            raise WsProtocolError("bad_type", f"expected a {cls.TYPE!r} message, got {message.TYPE!r}")
        return message


CLIENT_MESSAGES: dict[str, type[Any]] = {}
SERVER_MESSAGES: dict[str, type[Any]] = {}


class ClientMessageBase(Message):
    __slots__ = ()
    REGISTRY = CLIENT_MESSAGES

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        CLIENT_MESSAGES[cls.TYPE] = cls


class ServerMessage(Message):
    __slots__ = ()
    REGISTRY = SERVER_MESSAGES

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        SERVER_MESSAGES[cls.TYPE] = cls


def parse_server(data: bytes | str) -> Any:
    """A server text frame, typed (for clients and tests)."""
    return _decode(data, SERVER_MESSAGES, 1 << 20)


# Client → server.


@dataclass(frozen=True, slots=True)
class TextInput(ClientMessageBase):
    TYPE: ClassVar[str] = "text"
    text: str


@dataclass(frozen=True, slots=True)
class Ping(ClientMessageBase):
    TYPE: ClassVar[str] = "ping"


@dataclass(frozen=True, slots=True)
class HangupRequest(ClientMessageBase):
    TYPE: ClassVar[str] = "hangup"


# Server → client.


@dataclass(frozen=True, slots=True)
class SessionInfo(ServerMessage):
    TYPE: ClassVar[str] = "session"
    call_id: str
    sample_rate: int = AUDIO_RATE
    max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES
    idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class SpeechDetected(ServerMessage):
    TYPE: ClassVar[str] = "speech"
    utterance_id: str
    stream_ms: int


@dataclass(frozen=True, slots=True)
class Transcript(ServerMessage):
    TYPE: ClassVar[str] = "transcript"
    utterance_id: str
    text: str
    final: bool = True


@dataclass(frozen=True, slots=True)
class Reply(ServerMessage):
    TYPE: ClassVar[str] = "reply"
    reply_id: str
    text: str
    end: bool = False


@dataclass(frozen=True, slots=True)
class StateChange(ServerMessage):
    TYPE: ClassVar[str] = "state"
    from_state: str
    to_state: str
    turn: int = 0


@dataclass(frozen=True, slots=True)
class PlaybackEvent(ServerMessage):
    TYPE: ClassVar[str] = "playback"
    playback_id: str
    event: str  # started | finished | stopped
    duration_ms: int = 0
    played_ms: int = 0


@dataclass(frozen=True, slots=True)
class Hangup(ServerMessage):
    TYPE: ClassVar[str] = "hangup"
    reason: str


@dataclass(frozen=True, slots=True)
class Pong(ServerMessage):
    TYPE: ClassVar[str] = "pong"


@dataclass(frozen=True, slots=True)
class Error(ServerMessage):
    TYPE: ClassVar[str] = "error"
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """Caller audio: s16le mono PCM at ``AUDIO_RATE``."""

    pcm: bytes

    @classmethod
    def parse(cls, data: bytes, *, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> AudioFrame:
        if not data:
            raise WsProtocolError("bad_audio", "audio frame is empty")
        if len(data) > max_bytes:
            raise WsProtocolError("too_big", f"audio frame of {len(data)} bytes exceeds {max_bytes}")
        if len(data) % SAMPLE_WIDTH:
            raise WsProtocolError("bad_audio", "audio frame must hold whole 16-bit samples (even length)")
        return cls(bytes(data))

    def __bytes__(self) -> bytes:
        return self.pcm

    @property
    def duration_ms(self) -> float:
        return len(self.pcm) / SAMPLE_WIDTH * 1000 / AUDIO_RATE


ClientMessage = AudioFrame | TextInput | Ping | HangupRequest


def parse_client(data: bytes | bytearray | memoryview | str, limits: Limits) -> ClientMessage:
    """One client frame (bytes = binary frame, str = text frame), validated against ``limits``."""
    if not isinstance(data, str):
        return AudioFrame.parse(bytes(data), max_bytes=limits.max_frame_bytes)
    message = _decode(data, CLIENT_MESSAGES, limits.max_text_chars + 200)  # room for the JSON around it
    if isinstance(message, TextInput):
        text = message.text.strip()
        if not text:
            raise WsProtocolError("bad_field", "text message is empty")
        if len(text) > limits.max_text_chars:
            raise WsProtocolError(
                "too_long", f"text of {len(text)} characters exceeds {limits.max_text_chars}"
            )
        try:
            text.encode()
        except UnicodeEncodeError:  # JSON can escape a lone surrogate ("\ud800"); no text has one
            raise WsProtocolError("bad_field", "text is not valid Unicode (a lone surrogate)") from None
        return TextInput(text)
    return message  # type: ignore[no-any-return]  # _decode builds one of CLIENT_MESSAGES


def encode_client(message: ClientMessage) -> bytes | str:
    """What a client sends for ``message`` (the inverse of ``parse_client``; for tests and tools)."""
    if isinstance(message, AudioFrame):
        return message.pcm
    return str(message)
