"""The reference speech server: the embedded engines served over `protos/speech.proto`.

Run ``python -m streams.engines.speech_server --port N`` (``--port 0`` picks a free port; the first
line on stdout is ``listening on <host>:<port>``) to put Whisper or PocketSphinx, espeak-ng and the
knowledge-base dialog on one machine and point other machines' workers at it
(``stt_engine=remote`` and ``stt_remote_url=host:port`` …). Engines come from the same settings as the
workers (``--stt``/``--tts``/``--dialog`` override); ``--tls-cert``/``--tls-key`` serve TLS.

Semantics:

- ``StreamingRecognize``: the first message must be the config (else INVALID_ARGUMENT). Audio is
  buffered; with ``interim_results`` the engine re-runs on the audio so far after every further second
  and a partial result goes out; when the client half-closes, the final result. At most
  ``MAX_AUDIO_S`` of audio per stream.
- ``Synthesize``: the whole text is synthesized, then streamed in 100 ms chunks (converted to the
  requested rate if one is given).
- ``StreamConversation``: the first message must be the start; then every user turn is answered with
  the reply's sentences as chunks and a ``ReplyEnd``; the conversation's history grows on the server.
  No knowledge in the start means the server's knowledge base (``knowledge_file`` or the sample).

Engine input errors (``EngineError``) are INVALID_ARGUMENT with the engine's message; anything else is
INTERNAL. Work stops when the client's deadline passes or it cancels (checked between steps).
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, TypeVar

import grpc
import numpy as np
import structlog

from edge.media.codecs.resample import resample
from protos import speech_pb2, speech_pb2_grpc
from schemas.models import KnowledgeEntry
from streams.engines.dialog import DialogEngine, Turn
from streams.engines.errors import EngineError
from streams.engines.stt import SpeechToText
from streams.engines.tts import TextToSpeech

log = structlog.get_logger(__name__)

MIN_RATE: Final = 8000
MAX_RATE: Final = 48000
MAX_AUDIO_S: Final = 120
INTERIM_EVERY_S: Final = 1.0
TTS_CHUNK_MS: Final = 100
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
T = TypeVar("T")


ROLES: Final[dict[str, Literal["caller", "agent"]]] = {"caller": "caller", "agent": "agent"}  # of a past turn


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, message: str) -> NoReturn:
    context.abort(code, message)
    raise AssertionError("unreachable: abort raises")


def _run(context: grpc.ServicerContext, what: str, fn: Callable[..., T], *args: Any) -> T:
    try:
        return fn(*args)
    except EngineError as exc:
        _abort(context, grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except Exception as exc:
        log.exception("speech engine call failed", call=what)
        _abort(context, grpc.StatusCode.INTERNAL, f"{what} failed: {type(exc).__name__}: {exc}")


class SpeechToTextService(speech_pb2_grpc.SpeechToTextServicer):
    def __init__(self, stt: SpeechToText, default_language: str = "en-US") -> None:
        self.stt = stt
        self.default_language = default_language

    def StreamingRecognize(
        self, request_iterator: Iterator[speech_pb2.RecognizeRequest], context: grpc.ServicerContext
    ) -> Iterator[speech_pb2.RecognizeResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "config":
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the config")
        config = first.config
        rate = config.sample_rate
        if not MIN_RATE <= rate <= MAX_RATE:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"sample_rate {rate} is outside {MIN_RATE}..{MAX_RATE}",
            )
        language = config.language or self.default_language
        limit = MAX_AUDIO_S * rate * 2
        step = int(INTERIM_EVERY_S * rate) * 2
        audio = bytearray()
        next_partial = step

        def result(pcm: bytes, final: bool) -> speech_pb2.RecognizeResponse:
            t = _run(context, "recognition", self.stt.transcribe, pcm, rate, language)
            return speech_pb2.RecognizeResponse(
                text=t.text,
                is_final=final,
                confidence=t.confidence,
                language=t.language,
                engine=self.stt.name,
                audio_ms=len(pcm) * 500 // rate,
            )

        for request in request_iterator:
            if request.WhichOneof("request") != "audio":
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "only the first message may be a config")
            audio += request.audio
            if len(audio) > limit:
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"audio longer than {MAX_AUDIO_S} s")
            if config.interim_results and len(audio) >= next_partial:
                next_partial += step
                yield result(bytes(audio[: len(audio) & ~1]), final=False)
            if not context.is_active():
                return
        if len(audio) % 2:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"odd number of audio bytes ({len(audio)})")
        yield result(bytes(audio), final=True)


class TextToSpeechService(speech_pb2_grpc.TextToSpeechServicer):
    def __init__(self, tts: TextToSpeech, default_language: str = "en-US") -> None:
        self.tts = tts
        self.default_language = default_language

    def Synthesize(
        self, request: speech_pb2.SynthesizeRequest, context: grpc.ServicerContext
    ) -> Iterator[speech_pb2.SynthesizeResponse]:
        if not request.text.strip():
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "nothing to synthesize: empty text")
        if request.sample_rate and not MIN_RATE <= request.sample_rate <= MAX_RATE:
            _abort(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                f"sample_rate {request.sample_rate} is outside {MIN_RATE}..{MAX_RATE}",
            )
        # The engines pick their voice from the language tag; a voice name (espeak-ng: en-gb) stands in.
        language = request.voice or request.language or self.default_language
        speech = _run(context, "synthesis", self.tts.synthesize, request.text, language)
        pcm, rate, engine = speech.pcm, speech.sample_rate, speech.engine or self.tts.name
        if request.sample_rate and request.sample_rate != rate:
            samples = resample(np.frombuffer(pcm, dtype="<i2"), rate, request.sample_rate)
            pcm, rate = samples.astype("<i2").tobytes(), request.sample_rate
        step = rate * TTS_CHUNK_MS // 1000 * 2
        for i in range(0, len(pcm), step):
            if not context.is_active():
                return
            yield speech_pb2.SynthesizeResponse(pcm=pcm[i : i + step], sample_rate=rate, engine=engine)


def knowledge_entry(message: speech_pb2.KnowledgeEntry) -> KnowledgeEntry:
    return KnowledgeEntry(
        event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"sentiric:knowledge:{message.entity_id}"),
        entity_id=message.entity_id,
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
        source="speech-server",
        trace_id=f"knowledge:{message.entity_id}",
        title=message.title,
        phrasings=tuple(message.phrasings),
        answer=message.answer,
        language=message.language or "en-US",
        end_conversation=message.end_conversation,
    )


class DialogService(speech_pb2_grpc.DialogServicer):
    def __init__(self, dialog: DialogEngine, knowledge: Sequence[KnowledgeEntry]) -> None:
        self.dialog = dialog
        self.knowledge = tuple(knowledge)

    def StreamConversation(
        self, request_iterator: Iterator[speech_pb2.ConversationRequest], context: grpc.ServicerContext
    ) -> Iterator[speech_pb2.ConversationResponse]:
        first = next(request_iterator, None)
        if first is None or first.WhichOneof("request") != "start":
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the start")
        start = first.start
        knowledge = tuple(knowledge_entry(k) for k in start.knowledge) or self.knowledge
        history: list[Turn] = []
        for past in start.history:
            role = ROLES.get(past.role)
            if role is None:
                message = f"turn role {past.role!r} is not caller or agent"
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, message)
            history.append(Turn(role, past.text))
        for request in request_iterator:
            if request.WhichOneof("request") != "turn":
                _abort(context, grpc.StatusCode.INVALID_ARGUMENT, "only the first message may be a start")
            turn = request.turn
            reply = _run(context, "dialog", self.dialog.reply, turn.text, tuple(history), knowledge)
            for sentence in _SENTENCE.split(reply.text.strip()):
                if sentence:
                    chunk = speech_pb2.ReplyChunk(turn_id=turn.turn_id, text=sentence)
                    yield speech_pb2.ConversationResponse(chunk=chunk)
            end = speech_pb2.ReplyEnd(
                turn_id=turn.turn_id,
                text=reply.text,
                intent=reply.intent or "",
                end_conversation=reply.end_conversation,
                engine=self.dialog.name,
            )
            yield speech_pb2.ConversationResponse(end=end)
            history += [Turn("caller", turn.text), Turn("agent", reply.text)]
            if not context.is_active():
                return


def serve(
    *,
    stt: SpeechToText | None = None,
    tts: TextToSpeech | None = None,
    dialog: DialogEngine | None = None,
    knowledge: Sequence[KnowledgeEntry] = (),
    language: str = "en-US",
    host: str = "127.0.0.1",
    port: int = 0,
    tls: tuple[bytes, bytes] | None = None,
    workers: int = 8,
) -> tuple[grpc.Server, int]:
    """Start a server for the engines given (others are not served: UNIMPLEMENTED); returns it and the
    port it is bound to. ``tls`` is (certificate chain PEM, private key PEM)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="speech"))
    if stt is not None:
        speech_pb2_grpc.add_SpeechToTextServicer_to_server(SpeechToTextService(stt, language), server)
    if tts is not None:
        speech_pb2_grpc.add_TextToSpeechServicer_to_server(TextToSpeechService(tts, language), server)
    if dialog is not None:
        speech_pb2_grpc.add_DialogServicer_to_server(DialogService(dialog, knowledge), server)
    address = f"{host}:{port}"
    if tls is not None:
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([(tls[1], tls[0])]))
    else:
        bound = server.add_insecure_port(address)
    if bound == 0:
        raise EngineError(f"cannot bind the speech server to {address}")
    server.start()
    return server, bound


def _engines(args: argparse.Namespace) -> dict[str, Any]:
    from sentiric.settings import get_settings
    from streams.engines.factory import build_dialog, build_stt, build_tts
    from streams.engines.knowledge import SAMPLE_PATH, load_knowledge

    base = get_settings()
    overrides = {k: v for k, v in (("stt_engine", args.stt), ("tts_engine", args.tts)) if v}
    if args.dialog:
        overrides["dialog_engine"] = args.dialog
    settings = base.model_copy(update=overrides)
    for kind in ("stt", "tts", "dialog"):
        if getattr(settings, f"{kind}_engine") == "remote":
            raise EngineError(f"the speech server serves embedded engines; {kind}_engine is 'remote'")
    services = set(args.services.split(","))
    return {
        "stt": build_stt(settings) if "stt" in services else None,
        "tts": build_tts(settings) if "tts" in services else None,
        "dialog": build_dialog(settings) if "dialog" in services else None,
        "knowledge": load_knowledge(settings.knowledge_file or SAMPLE_PATH),
        "language": settings.language,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streams.engines.speech_server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=50061, help="0: any free port (printed)")
    parser.add_argument("--services", default="stt,tts,dialog", help="comma-separated: stt,tts,dialog")
    parser.add_argument("--stt", help="whisper or pocketsphinx (default: the stt_engine setting)")
    parser.add_argument("--tts", help="hibari or espeak (default: the tts_engine setting)")
    parser.add_argument("--dialog", help="knowledge or openai (default: the dialog_engine setting)")
    parser.add_argument("--tls-cert", type=Path, help="certificate chain (PEM); with --tls-key")
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args(argv)
    from sentiric.logs import configure
    from sentiric.settings import get_settings

    configure(get_settings(), service="sentiric-speech")  # the one logging pipeline (sentiric.logs)
    if (args.tls_cert is None) != (args.tls_key is None):
        parser.error("--tls-cert and --tls-key go together")
    tls = (args.tls_cert.read_bytes(), args.tls_key.read_bytes()) if args.tls_cert else None
    try:
        engines = _engines(args)
        server, port = serve(**engines, host=args.host, port=args.port, tls=tls, workers=args.workers)
    except EngineError as exc:
        print(f"speech server: {exc}", file=sys.stderr)
        return 2
    print(f"listening on {args.host}:{port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
