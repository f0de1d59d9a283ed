"""The gRPC MediaService (``protos/media.proto``) over the edge's ``MediaEngine``.

Thin by design: each RPC maps to the engine. Commands arriving here (PlayAudio, StartRecording,
StopRecording) are built as the same Avro command records the dialog sends, recorded on this node's
command topic (``sentiric.commands.<node-id>``), and executed at once. When the edge's command
consumer later reads them back, the engine recognises their ``event_id`` and does not run them twice.

- ``trace_id`` request metadata, when present, becomes the command's trace id (else the call id).
- ``sentiric_media_grpc_requests_total{method, code}`` counts every RPC by outcome.
- TLS when ``grpc_tls_cert``/``grpc_tls_key`` are set; mutual TLS (client certificates required and
  checked against ``grpc_tls_client_ca``) when that is set too.
- Authentication (``edge.grpc_auth``): an admin-scope API token in ``authorization: Bearer`` metadata on
  every call unless mutual TLS authenticates the client; bound beyond loopback without mutual TLS, the
  default admin token makes ``serve_media`` refuse to start.
- ``StartRecording`` writes only under the recordings root or to a configured bucket
  (``edge.media.recording_root``): anything else is INVALID_ARGUMENT, and is not recorded on the log.
- Live audio: ``StreamAudio``/``RecordAudio`` read a bounded tap of the call (a slow reader loses its
  own oldest frames, never the call's); ``InjectAudio`` applies back-pressure through gRPC flow control
  when the client sends faster than real time.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
import numpy as np
import structlog
from prometheus_client import Counter

from edge.grpc_auth import TokenInterceptor
from edge.media.codecs.resample import StreamResampler
from edge.media.engine import MediaCommandError, MediaEngine
from edge.media.ports import PortsExhausted
from edge.media.recording_root import allowed_output_uri
from edge.media.storage import StorageError
from edge.media.taps import AudioInjector, AudioTap, TapDirection
from edge.media_port import MediaOptions
from protos import media_pb2, media_pb2_grpc
from schemas.envelope import DEFAULT_TENANT, CallSequencer, Envelope, envelope
from schemas.models import PlayAudio, StartRecording, StopRecording
from sentiric.auth import settings_verifier
from sentiric.exposure import check_bind, is_loopback

if TYPE_CHECKING:
    from edge.facts import Publisher
    from sentiric.settings import Settings

    TokenLookup = Callable[[str], Any | None]
    # Requests and responses are the generated protobuf messages, untyped (protos/*_pb2_grpc.py).
    Context = grpc.aio.ServicerContext[Any, Any]

log = structlog.get_logger(__name__)

REQUESTS = Counter("sentiric_media_grpc_requests_total", "MediaService RPCs by outcome", ["method", "code"])
DIRECTIONS: dict[int, TapDirection] = {
    media_pb2.AUDIO_DIRECTION_CALLER: "caller",
    media_pb2.AUDIO_DIRECTION_AGENT: "agent",
    media_pb2.AUDIO_DIRECTION_MIXED: "mixed",
}
INJECT_HIGH_WATER_MS = 400  # stop reading the client's stream while this much audio waits to be played

# The commands this service records: what ``MediaServicer._record`` takes and hands back, unchanged.
C = TypeVar("C", PlayAudio, StartRecording, StopRecording)


def _code(context: Context) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN"


def counted(method: Callable[..., Any]) -> Callable[..., Any]:
    """Count the RPC in REQUESTS with its final status code (unary and server-streaming handlers)."""
    name = method.__name__
    if inspect.isasyncgenfunction(method):

        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: Context) -> AsyncIterator[Any]:
            code = "OK"
            try:
                async for item in method(self, request, context):
                    yield item
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except BaseException:
                code = _code(context)
                raise
            finally:
                REQUESTS.labels(name, code).inc()

        return stream

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: Context) -> Any:
        code = "OK"
        try:
            return await method(self, request, context)
        except BaseException:
            code = _code(context)
            raise
        finally:
            REQUESTS.labels(name, code).inc()

    return unary


class MediaServicer(media_pb2_grpc.MediaServiceServicer):
    def __init__(
        self, engine: MediaEngine, publisher: Publisher, *, commands_topic: str, node_id: str
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.commands_topic = commands_topic
        self.source = f"{node_id}/grpc"
        self._seq = CallSequencer()
        self._ports: dict[str, int] = {}

    # --- helpers ---

    def _envelope(self, call_id: str, context: Context) -> Envelope:
        """The next command's envelope for ``call_id``: our sequence, the caller's trace id if it sent one.

        A command is built as ``Model(**self._envelope(...), field=...)``: the envelope is typed, so the
        type checker holds every field named beside it to the model (a misspelt one is an error)."""
        metadata = dict(context.invocation_metadata() or ())
        trace_id = metadata.get("trace_id") or metadata.get("x-trace-id")
        if isinstance(trace_id, bytes):  # only "-bin" keys carry bytes; these two never do
            trace_id = trace_id.decode()
        # the call's tenant, as the edge's recorder stamps its facts (a media session of this edge's)
        tenant_of = getattr(getattr(self.engine, "facts", None), "tenant", None)
        tenant = tenant_of(call_id) if callable(tenant_of) else DEFAULT_TENANT
        return envelope(
            call_id, seq=self._seq.next(call_id), source=self.source, trace_id=trace_id, tenant=tenant
        )

    def _record(self, command: C) -> C:
        """Publish ``command`` to the commands topic (recorded like the dialog's commands), return it."""
        self.publisher.publish(command, topic=self.commands_topic)
        return command

    async def _session(self, call_id: str, context: Context) -> Any:
        session = self.engine.session(call_id)
        if session is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no media session for call {call_id!r}")
        return session

    async def _execute(self, command: Any, context: Context) -> None:
        try:
            await self.engine.execute(command)
        except MediaCommandError as exc:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

    # --- ports ---

    @counted
    async def AllocatePort(
        self, request: media_pb2.AllocatePortRequest, context: Context
    ) -> media_pb2.AllocatePortResponse:
        if not request.call_id:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "call_id is required")
        if self.engine.session(request.call_id) is not None:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, f"call {request.call_id!r} has a session")
        try:
            port = self.engine.pool.allocate(time.monotonic())
        except PortsExhausted as exc:
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        remote = (request.remote_host, request.remote_port) if request.remote_host else None
        try:
            await self.engine.open_session(
                request.call_id,
                MediaOptions(
                    local_port=port,
                    remote_addr=remote,
                    codec=request.codec or "PCMU",
                    payload_type=request.payload_type,
                    dtmf_payload_type=request.dtmf_payload_type or None,
                    ptime_ms=20,
                    crypto_local=request.crypto_local or None,
                    crypto_remote=request.crypto_remote or None,
                ),
            )
        except (MediaCommandError, OSError) as exc:
            self.engine.release_port(port)
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        self._ports[request.call_id] = port
        host = self.engine.settings.rtp_host
        return media_pb2.AllocatePortResponse(host=host, rtp_port=port, rtcp_port=port + 1)

    @counted
    async def ReleasePort(
        self, request: media_pb2.ReleasePortRequest, context: Context
    ) -> media_pb2.ReleasePortResponse:
        port = self._ports.pop(request.call_id, None)
        if port is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"no port allocated here for {request.call_id!r}")
        session = self.engine.session(request.call_id)
        if session is not None:
            await session.close()
        self.engine.release_port(port)
        self._seq.forget(request.call_id)
        return media_pb2.ReleasePortResponse(rtp_port=port)

    # --- commands ---

    @counted
    async def PlayAudio(
        self, request: media_pb2.PlayAudioRequest, context: Context
    ) -> media_pb2.PlayAudioResponse:
        await self._session(request.call_id, context)
        command = self._record(
            PlayAudio(
                **self._envelope(request.call_id, context),
                playback_id=request.playback_id or str(uuid.uuid4()),
                audio_uri=request.audio_uri or None,
                pcm=request.pcm or None,
                sample_rate=request.sample_rate or 8000,
                barge_in=request.barge_in,
            )
        )
        await self._execute(command, context)
        return media_pb2.PlayAudioResponse(playback_id=command.playback_id)

    @counted
    async def StartRecording(
        self, request: media_pb2.StartRecordingRequest, context: Context
    ) -> media_pb2.StartRecordingResponse:
        await self._session(request.call_id, context)
        try:
            allowed_output_uri(self.engine.settings, request.output_uri)
        except StorageError as exc:  # refused before it is recorded as a command
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        command = self._record(
            StartRecording(
                **self._envelope(request.call_id, context),
                recording_id=request.recording_id or str(uuid.uuid4()),
                output_uri=request.output_uri,
                format=request.format or "wav",
            )
        )
        await self._execute(command, context)
        return media_pb2.StartRecordingResponse(recording_id=command.recording_id)

    @counted
    async def StopRecording(
        self, request: media_pb2.StopRecordingRequest, context: Context
    ) -> media_pb2.StopRecordingResponse:
        await self._session(request.call_id, context)
        command = self._record(
            StopRecording(**self._envelope(request.call_id, context), recording_id=request.recording_id)
        )
        await self._execute(command, context)
        return media_pb2.StopRecordingResponse()

    # --- live audio ---

    async def _stream(
        self, call_id: str, direction: TapDirection, sample_rate: int, context: Context
    ) -> AsyncIterator[Any]:
        rate = sample_rate or 8000
        if rate not in (8000, 16000):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "sample_rate must be 8000 or 16000")
        session = await self._session(call_id, context)
        tap = AudioTap(direction)
        session.taps.append(tap)
        resampler = StreamResampler(8000, rate, quality="QQ") if rate != 8000 else None
        sequence = 0
        try:
            while (frame := await tap.get()) is not None:
                if resampler is not None:
                    frame = resampler.process(np.frombuffer(frame, "<i2").astype(np.int16)).tobytes()
                yield media_pb2.AudioFrame(
                    pcm=frame, sample_rate=rate, sequence=sequence, dropped=tap.dropped
                )
                sequence += 1
        finally:
            tap.close()
            if tap in session.taps:
                session.taps.remove(tap)

    @counted
    async def StreamAudio(
        self, request: media_pb2.StreamAudioRequest, context: Context
    ) -> AsyncIterator[media_pb2.AudioFrame]:
        direction = DIRECTIONS.get(request.direction, "caller")
        async for frame in self._stream(request.call_id, direction, request.sample_rate, context):
            yield frame

    @counted
    async def RecordAudio(
        self, request: media_pb2.RecordAudioRequest, context: Context
    ) -> AsyncIterator[media_pb2.AudioFrame]:
        async for frame in self._stream(request.call_id, "caller", request.sample_rate, context):
            yield frame

    async def InjectAudio(
        self, request_iterator: AsyncIterator[media_pb2.InjectAudioRequest], context: Context
    ) -> media_pb2.InjectAudioResponse:
        code = "OK"
        try:
            return await self._inject(request_iterator, context)
        except BaseException:
            code = _code(context)
            raise
        finally:
            REQUESTS.labels("InjectAudio", code).inc()

    async def _inject(
        self, request_iterator: AsyncIterator[media_pb2.InjectAudioRequest], context: Context
    ) -> media_pb2.InjectAudioResponse:
        injector = AudioInjector()
        session = None
        resampler: StreamResampler | None = None
        received = 0
        async for message in request_iterator:
            if session is None:
                session = await self._session(message.call_id, context)
                session.injectors.append(injector)
            rate = message.sample_rate or 8000
            pcm = np.frombuffer(message.pcm[: len(message.pcm) // 2 * 2], "<i2").astype(np.int16)
            received += pcm.size
            if rate != 8000:
                if resampler is None or resampler.in_rate != rate:
                    resampler = StreamResampler(rate, 8000, quality="QQ")
                pcm = resampler.process(pcm)
            injector.write(pcm)
            await injector.drained(INJECT_HIGH_WATER_MS)  # back-pressure: the client's next message waits
        if resampler is not None:
            injector.write(resampler.flush())
        injector.end()
        await injector.drained()  # answer once the caller has heard it all (or hung up)
        return media_pb2.InjectAudioResponse(
            samples_received=received, samples_dropped=injector.dropped_bytes // 2
        )


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    if settings.grpc_tls_cert is None or settings.grpc_tls_key is None:
        return None
    key = settings.grpc_tls_key.read_bytes()
    cert = settings.grpc_tls_cert.read_bytes()
    ca = settings.grpc_tls_client_ca.read_bytes() if settings.grpc_tls_client_ca else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=ca, require_client_auth=ca is not None
    )


def token_interceptor(
    settings: Settings, lookup: TokenLookup | None, *, mutual_tls: bool
) -> TokenInterceptor:
    # No config table: the bootstrap admin token only.
    verifier = settings_verifier(settings, lookup or (lambda token_id: None))
    return TokenInterceptor(
        verifier,
        required=not mutual_tls,
        on_denied=lambda method, code: REQUESTS.labels(method, code.name).inc(),
    )


async def serve_media(
    engine: MediaEngine,
    publisher: Publisher,
    settings: Settings,
    *,
    address: str | None = None,
    tokens: Any | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Start the MediaService; returns the server and the bound port (``address`` "host:0" picks one).
    ``tokens``: where API token records are looked up (``api_token(id)``, the edge's config table)."""
    address = address or f"{settings.sip_host}:{settings.grpc_port}"
    host = address.rsplit(":", 1)[0]
    credentials = server_credentials(settings)
    mutual_tls = credentials is not None and settings.grpc_tls_client_ca is not None
    if not is_loopback(host):
        if not mutual_tls:
            check_bind(settings, "the gRPC MediaService", host)  # raises: the default token is public
        if credentials is None:
            log.warning("MediaService without TLS: bearer tokens cross the network in clear", host=host)
    interceptor = token_interceptor(
        settings, tokens.api_token if tokens is not None else None, mutual_tls=mutual_tls
    )
    server = grpc.aio.server(
        interceptors=[interceptor], options=[("grpc.so_reuseport", 0)]
    )  # no port sharing
    servicer = MediaServicer(
        engine, publisher, commands_topic=settings.commands_topic, node_id=settings.node_id
    )
    media_pb2_grpc.add_MediaServiceServicer_to_server(servicer, server)
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    await server.start()
    log.info("MediaService listening", port=port, tls=credentials is not None, mtls=mutual_tls)
    return server, port
