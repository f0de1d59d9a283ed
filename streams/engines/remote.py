"""Speech engines on another machine: gRPC clients of `protos/speech.proto` behind the engine Protocols.

- ``RemoteSTT`` (``SpeechToText``): ``StreamingRecognize`` — a config message, then the utterance in
  100 ms chunks; the final result is the transcript. ``stream()`` exposes the partial results too.
- ``RemoteTTS`` (``TextToSpeech``): ``Synthesize`` — the PCM chunks joined.
- ``RemoteDialog`` (``DialogEngine``): ``StreamConversation`` — one stream per ``reply()`` carrying the
  history and the knowledge base, then the turn; ``RemoteConversation`` keeps one stream open for a
  whole conversation (turn after turn) for callers that hold one.

Targets are ``host:port`` or ``grpc://host:port`` (plain), ``grpcs://host:port`` (TLS, verified against
the system roots or ``tls_ca``). Every call has a deadline (``timeout_s``); every gRPC failure becomes
``EngineError`` naming the service, the target and the status code (``UNAVAILABLE`` for a server that
is down, ``DEADLINE_EXCEEDED`` …), so the speech workers treat a remote engine like a local one.
The engine seams are synchronous (the workers call them in threads), so these clients are too.
"""

from __future__ import annotations

import queue
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import grpc

from protos import speech_pb2, speech_pb2_grpc
from schemas.models import KnowledgeEntry
from streams.engines.dialog import Reply, Turn
from streams.engines.errors import EngineError
from streams.engines.stt import Transcript
from streams.engines.tts import Speech

DEFAULT_TIMEOUT_S: Final = 30.0
CHUNK_MS: Final = 100  # audio per StreamingRecognize message
MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Target:
    address: str  # host:port
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Target:
        scheme, sep, rest = url.partition("://")
        if not sep:
            scheme, rest = "grpc", url
        if scheme not in ("grpc", "grpcs"):
            raise EngineError(f"speech service URL {url!r}: scheme must be grpc:// or grpcs://")
        host, colon, port = rest.rstrip("/").rpartition(":")
        if not colon or not host or not port.isdigit():
            raise EngineError(f"speech service URL {url!r} has no host:port")
        return cls(f"{host}:{port}", scheme == "grpcs")


def open_channel(url: str, tls_ca: Path | None = None) -> tuple[grpc.Channel, Target]:
    target = Target.parse(url)
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    if target.tls or tls_ca is not None:
        root = tls_ca.read_bytes() if tls_ca is not None else None
        creds = grpc.ssl_channel_credentials(root_certificates=root)
        return grpc.secure_channel(target.address, creds, options=options), target
    return grpc.insecure_channel(target.address, options=options), target


def _failure(service: str, target: Target, exc: grpc.RpcError) -> EngineError:
    code = exc.code() if isinstance(exc, grpc.Call) else None
    details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
    name = code.name if code is not None else "UNKNOWN"
    return EngineError(f"remote {service} at {target.address}: {name}: {details}")


class _Client:
    service = "speech"

    def __init__(self, url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, tls_ca: Path | None = None) -> None:
        self.timeout_s = timeout_s
        self._channel, self.target = open_channel(url, tls_ca)
        self.name = f"remote-{self.service}@{self.target.address}"

    def close(self) -> None:
        self._channel.close()


@dataclass(frozen=True, slots=True)
class RecognitionResult:
    text: str
    is_final: bool
    confidence: float | None
    language: str
    engine: str
    audio_ms: int


class RemoteSTT(_Client):
    """SpeechToText over ``SpeechToText.StreamingRecognize``."""

    service = "stt"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._stub = speech_pb2_grpc.SpeechToTextStub(self._channel)

    def stream(
        self, chunks: Iterable[bytes], sample_rate: int, language: str, *, interim_results: bool = False
    ) -> Iterator[RecognitionResult]:
        """Recognize audio as it comes (``chunks`` may block, e.g. reading a live call); yields the
        partial results and, last, the final one."""
        config = speech_pb2.RecognitionConfig(
            sample_rate=sample_rate, language=language, interim_results=interim_results
        )

        def requests() -> Iterator[speech_pb2.RecognizeRequest]:
            yield speech_pb2.RecognizeRequest(config=config)
            for chunk in chunks:
                yield speech_pb2.RecognizeRequest(audio=chunk)

        try:
            for r in self._stub.StreamingRecognize(requests(), timeout=self.timeout_s):
                confidence = r.confidence if r.HasField("confidence") else None
                yield RecognitionResult(r.text, r.is_final, confidence, r.language, r.engine, r.audio_ms)
        except grpc.RpcError as exc:
            raise _failure(self.service, self.target, exc) from None

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        step = sample_rate * CHUNK_MS // 1000 * 2
        chunks = (pcm[i : i + step] for i in range(0, len(pcm), step))
        final = None
        for result in self.stream(chunks, sample_rate, language):
            if result.is_final:
                final = result
        if final is None:
            raise EngineError(f"remote stt at {self.target.address} closed without a final result")
        return Transcript(final.text, final.language or language, final.confidence)


class RemoteTTS(_Client):
    """TextToSpeech over ``TextToSpeech.Synthesize``."""

    service = "tts"

    def __init__(self, url: str, *, voice: str = "", sample_rate: int = 0, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.voice = voice
        self.sample_rate = sample_rate
        self._stub = speech_pb2_grpc.TextToSpeechStub(self._channel)

    def synthesize(self, text: str, language: str) -> Speech:
        request = speech_pb2.SynthesizeRequest(
            text=text, language=language, voice=self.voice, sample_rate=self.sample_rate
        )
        pcm: list[bytes] = []
        rate = 0
        try:
            for chunk in self._stub.Synthesize(request, timeout=self.timeout_s):
                pcm.append(chunk.pcm)
                rate = rate or chunk.sample_rate
        except grpc.RpcError as exc:
            raise _failure(self.service, self.target, exc) from None
        if not rate:
            raise EngineError(f"remote tts at {self.target.address} sent no audio")
        return Speech(b"".join(pcm), rate)


def knowledge_message(entry: KnowledgeEntry) -> speech_pb2.KnowledgeEntry:
    return speech_pb2.KnowledgeEntry(
        entity_id=entry.entity_id,
        title=entry.title,
        phrasings=list(entry.phrasings),
        answer=entry.answer,
        language=entry.language,
        end_conversation=entry.end_conversation,
    )


_CLOSE = object()


class RemoteConversation:
    """One open ``StreamConversation``: ``say()`` a turn, get the reply; ``close()`` half-closes.
    The deadline covers the whole conversation."""

    def __init__(
        self,
        stub: speech_pb2_grpc.DialogStub,
        target: Target,
        start: speech_pb2.ConversationStart,
        timeout_s: float,
    ) -> None:
        self._target = target
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._outbox.put(speech_pb2.ConversationRequest(start=start))

        def requests() -> Iterator[speech_pb2.ConversationRequest]:
            while (item := self._outbox.get()) is not _CLOSE:
                yield item

        self._call = stub.StreamConversation(requests(), timeout=timeout_s)
        self.engine = ""

    def say(self, text: str) -> Reply:
        turn_id = uuid.uuid4().hex
        self._outbox.put(speech_pb2.ConversationRequest(turn=speech_pb2.UserTurn(turn_id=turn_id, text=text)))
        pieces: list[str] = []
        try:
            for response in self._call:
                kind = response.WhichOneof("response")
                if kind == "chunk":
                    pieces.append(response.chunk.text)
                elif kind == "end":
                    end = response.end
                    if end.turn_id != turn_id:
                        raise EngineError(f"remote dialog answered turn {end.turn_id}, expected {turn_id}")
                    self.engine = end.engine
                    text_out = end.text or " ".join(pieces)
                    return Reply(text_out, end.intent or None, end.end_conversation)
        except grpc.RpcError as exc:
            raise _failure("dialog", self._target, exc) from None
        raise EngineError(f"remote dialog at {self._target.address} ended the conversation without a reply")

    def close(self) -> None:
        self._outbox.put(_CLOSE)
        try:
            for _ in self._call:  # drain: the server ends the stream after the half-close
                pass
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise _failure("dialog", self._target, exc) from None

    def cancel(self) -> None:
        self._call.cancel()
        self._outbox.put(_CLOSE)


class RemoteDialog(_Client):
    """DialogEngine over ``Dialog.StreamConversation``."""

    service = "dialog"

    def __init__(self, url: str, *, language: str = "en-US", **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.language = language
        self._stub = speech_pb2_grpc.DialogStub(self._channel)

    def conversation(
        self,
        conversation_id: str = "",
        history: Sequence[Turn] = (),
        knowledge: Sequence[KnowledgeEntry] = (),
        language: str | None = None,
    ) -> RemoteConversation:
        start = speech_pb2.ConversationStart(
            conversation_id=conversation_id,
            language=language or self.language,
            history=[speech_pb2.Turn(role=t.role, text=t.text) for t in history],
            knowledge=[knowledge_message(e) for e in knowledge],
        )
        return RemoteConversation(self._stub, self.target, start, self.timeout_s)

    def reply(self, text: str, history: Sequence[Turn], knowledge: Sequence[KnowledgeEntry]) -> Reply:
        conversation = self.conversation(history=history, knowledge=knowledge)
        try:
            answer = conversation.say(text)
        except EngineError:
            conversation.cancel()
            raise
        conversation.close()
        return answer
