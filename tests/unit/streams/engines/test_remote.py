"""Remote engines against the reference speech server in-process, over real gRPC on 127.0.0.1.

The server runs the fast embedded engines (PocketSphinx grammar STT, espeak-ng, the knowledge base);
`tests/integration/streams/test_remote_engines.py` runs the server as a process with Whisper.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import grpc
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from protos import speech_pb2, speech_pb2_grpc
from schemas.models import KnowledgeEntry
from sentiric.settings import Settings
from streams.engines.dialog import Turn
from streams.engines.errors import EngineError
from streams.engines.espeak import EspeakTTS
from streams.engines.factory import build_dialog, build_stt, build_tts
from streams.engines.knowledge import KnowledgeEngine, load_knowledge
from streams.engines.pocketsphinx_grammar import PocketsphinxGrammarSTT
from streams.engines.remote import RemoteDialog, RemoteSTT, RemoteTTS, Target
from streams.engines.speech_server import serve

SPEECH = Path(__file__).parents[3] / "fixtures" / "speech"


def wav(name: str) -> tuple[bytes, int]:
    with wave.open(str(SPEECH / name)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


@pytest.fixture(scope="module")
def knowledge() -> list[KnowledgeEntry]:
    return load_knowledge()


@pytest.fixture(scope="module")
def server(knowledge: list[KnowledgeEntry]) -> Iterator[str]:
    stt = PocketsphinxGrammarSTT(p for e in knowledge for p in e.phrasings)
    srv, port = serve(stt=stt, tts=EspeakTTS(), dialog=KnowledgeEngine(), knowledge=knowledge)
    yield f"127.0.0.1:{port}"
    srv.stop(grace=None).wait()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nobody listens on (held bound, not listening, so connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "address", "tls"),
    [
        ("127.0.0.1:50061", "127.0.0.1:50061", False),
        ("grpc://speech.internal:443", "speech.internal:443", False),
        ("grpcs://speech.internal:443/", "speech.internal:443", True),
        ("[::1]:7000", "[::1]:7000", False),
    ],
)
def test_target_parse(url: str, address: str, tls: bool) -> None:
    assert Target.parse(url) == Target(address, tls)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://host:1", "speech service URL 'http://host:1': scheme must be grpc:// or grpcs://"),
        ("host", "speech service URL 'host' has no host:port"),
        ("grpc://host:port", "speech service URL 'grpc://host:port' has no host:port"),
    ],
)
def test_target_parse_errors(url: str, message: str) -> None:
    with pytest.raises(EngineError) as info:
        Target.parse(url)
    assert str(info.value) == message


def test_transcribes_the_speech_fixture(server: str) -> None:
    pcm, rate = wav("opening_hours_16k.wav")
    stt = RemoteSTT(server)
    transcript = stt.transcribe(pcm, rate, "en-US")
    assert transcript.text == "what are your opening hours"
    assert transcript.language == "en-US"
    assert transcript.confidence is not None and 0 < transcript.confidence <= 1
    assert stt.name == f"remote-stt@{server}"


def test_streaming_gives_partials_then_one_final(server: str) -> None:
    pcm, rate = wav("where_are_you_16k.wav")
    chunks = [pcm[i : i + 640] for i in range(0, len(pcm), 640)]  # 20 ms, as from a call
    results = list(RemoteSTT(server).stream(chunks, rate, "en-US", interim_results=True))
    assert [r.is_final for r in results] == [False] * (len(results) - 1) + [True]
    assert len(results) == 1 + len(pcm) // (2 * rate)  # one partial per whole second
    assert [r.audio_ms for r in results[:-1]] == [1000 * (i + 1) for i in range(len(results) - 1)]
    final = results[-1]
    assert final.text == "where is your shop"
    assert final.engine == "pocketsphinx-grammar" and final.audio_ms == len(pcm) * 500 // rate


def test_synthesizes_speech(server: str) -> None:
    speech = RemoteTTS(server).synthesize("We are open from nine to six.", "en-US")
    assert speech.sample_rate == 22050
    samples = np.frombuffer(speech.pcm, dtype="<i2")
    assert samples.size > speech.sample_rate  # more than a second
    assert np.sqrt(np.mean(samples.astype(np.float64) ** 2)) > 500  # not silence
    local = EspeakTTS().synthesize("We are open from nine to six.", "en-US")
    assert abs(len(speech.pcm) - len(local.pcm)) < 0.01 * len(local.pcm)  # the chunks join back whole


def test_synthesis_at_a_requested_rate(server: str) -> None:
    native = RemoteTTS(server).synthesize("Goodbye.", "en-US")
    speech = RemoteTTS(server, sample_rate=8000).synthesize("Goodbye.", "en-US")
    assert speech.sample_rate == 8000
    assert abs(len(speech.pcm) / 8000 - len(native.pcm) / 22050) < 0.01


def test_one_shot_reply_and_a_two_turn_conversation(server: str, knowledge: list[KnowledgeEntry]) -> None:
    dialog = RemoteDialog(server)
    reply = dialog.reply("when are you open", [Turn("caller", "hello")], knowledge)
    assert reply.intent == "hours" and "Monday to Friday" in reply.text and not reply.end_conversation
    conversation = dialog.conversation("call-1", knowledge=knowledge)
    first = conversation.say("where is your shop")
    assert first.intent == "address" and "Harbour Street" in first.text
    second = conversation.say("thanks, goodbye")
    assert second.intent == "goodbye" and second.end_conversation
    assert conversation.engine == "knowledge-base"
    conversation.close()


def test_empty_knowledge_means_the_servers_own(server: str) -> None:
    reply = RemoteDialog(server).reply("how much does a repair cost", [], [])
    assert reply.intent == "prices"


def test_reply_streams_sentences_then_the_end(server: str) -> None:
    with grpc.insecure_channel(server) as channel:
        stub = speech_pb2_grpc.DialogStub(channel)
        requests = [
            speech_pb2.ConversationRequest(start=speech_pb2.ConversationStart(language="en-US")),
            speech_pb2.ConversationRequest(turn=speech_pb2.UserTurn(turn_id="t1", text="opening hours")),
        ]
        responses = list(stub.StreamConversation(iter(requests), timeout=10))
    kinds = [r.WhichOneof("response") for r in responses]
    assert kinds == ["chunk", "chunk", "end"]  # the hours answer has two sentences
    end = responses[-1].end
    assert " ".join(r.chunk.text for r in responses[:-1]) == end.text
    assert (end.turn_id, end.intent, end.engine) == ("t1", "hours", "knowledge-base")


def _status(call: object) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        list(call)  # type: ignore[call-overload]
    return info.value.code(), info.value.details()


def test_contract_violations_are_invalid_argument(server: str) -> None:
    audio = speech_pb2.RecognizeRequest(audio=b"\0\0")
    config = speech_pb2.RecognizeRequest(config=speech_pb2.RecognitionConfig(sample_rate=16000))
    with grpc.insecure_channel(server) as channel:
        stt = speech_pb2_grpc.SpeechToTextStub(channel)
        assert _status(stt.StreamingRecognize(iter([audio]), timeout=5)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "the first message must be the config",
        )
        assert _status(stt.StreamingRecognize(iter([config, config]), timeout=5)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "only the first message may be a config",
        )
        bad_rate = speech_pb2.RecognizeRequest(config=speech_pb2.RecognitionConfig(sample_rate=4000))
        assert _status(stt.StreamingRecognize(iter([bad_rate]), timeout=5)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "sample_rate 4000 is outside 8000..48000",
        )
        odd = speech_pb2.RecognizeRequest(audio=b"\0\0\0")
        assert _status(stt.StreamingRecognize(iter([config, odd]), timeout=5)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "odd number of audio bytes (3)",
        )
        dialog = speech_pb2_grpc.DialogStub(channel)
        turn = speech_pb2.ConversationRequest(turn=speech_pb2.UserTurn(text="hi"))
        assert _status(dialog.StreamConversation(iter([turn]), timeout=5)) == (
            grpc.StatusCode.INVALID_ARGUMENT,
            "the first message must be the start",
        )
        start = speech_pb2.ConversationStart(history=[speech_pb2.Turn(role="system", text="x")])
        assert _status(
            dialog.StreamConversation(iter([speech_pb2.ConversationRequest(start=start)]), timeout=5)
        ) == (grpc.StatusCode.INVALID_ARGUMENT, "turn role 'system' is not caller or agent")


def test_engine_errors_come_back_as_engine_error(server: str) -> None:
    with pytest.raises(EngineError) as info:
        RemoteTTS(server).synthesize("   ", "en-US")
    assert str(info.value) == (f"remote tts at {server}: INVALID_ARGUMENT: nothing to synthesize: empty text")
    with pytest.raises(EngineError, match=r": INVALID_ARGUMENT: espeak-ng has no voice 'xx'$"):
        RemoteTTS(server).synthesize("hello", "xx-XX")


def test_server_down_is_an_engine_error(closed_port: int) -> None:
    url = f"127.0.0.1:{closed_port}"
    with pytest.raises(EngineError, match=rf"^remote stt at {url}: UNAVAILABLE: "):
        RemoteSTT(url, timeout_s=5).transcribe(b"\0\0" * 1600, 16000, "en-US")
    with pytest.raises(EngineError, match=rf"^remote tts at {url}: UNAVAILABLE: "):
        RemoteTTS(url, timeout_s=5).synthesize("hello", "en-US")
    with pytest.raises(EngineError, match=rf"^remote dialog at {url}: UNAVAILABLE: "):
        RemoteDialog(url, timeout_s=5).reply("hello", [], [])


def test_deadline_passing_mid_stream_is_an_engine_error(server: str) -> None:
    release = threading.Event()

    def slow_microphone() -> Iterator[bytes]:
        yield b"\0\0" * 320
        release.wait(5)  # the caller keeps talking past the deadline
        yield b"\0\0" * 320

    stt = RemoteSTT(server, timeout_s=0.3)
    try:
        with pytest.raises(EngineError, match=rf"^remote stt at {server}: DEADLINE_EXCEEDED: "):
            list(stt.stream(slow_microphone(), 16000, "en-US"))
    finally:
        release.set()


def test_a_service_the_server_does_not_run_is_unimplemented(knowledge: list[KnowledgeEntry]) -> None:
    srv, port = serve(dialog=KnowledgeEngine(), knowledge=knowledge)
    try:
        with pytest.raises(EngineError, match=r": UNIMPLEMENTED: "):
            RemoteTTS(f"127.0.0.1:{port}").synthesize("hello", "en-US")
    finally:
        srv.stop(grace=None).wait()


def _self_signed(tmp: Path) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def test_tls(tmp_path: Path, knowledge: list[KnowledgeEntry]) -> None:
    cert, key = _self_signed(tmp_path)
    (tmp_path / "ca.pem").write_bytes(cert)
    srv, port = serve(dialog=KnowledgeEngine(), knowledge=knowledge, host="localhost", tls=(cert, key))
    try:
        reply = RemoteDialog(f"grpcs://localhost:{port}", tls_ca=tmp_path / "ca.pem").reply("address", [], [])
        assert reply.intent == "address"
        with pytest.raises(EngineError, match=r": UNAVAILABLE: "):  # plain text to a TLS port
            RemoteDialog(f"localhost:{port}", timeout_s=5).reply("address", [], [])
    finally:
        srv.stop(grace=None).wait()


def test_factory_builds_remote_engines(server: str) -> None:
    settings = Settings(
        stt_engine="remote",
        tts_engine="remote",
        dialog_engine="remote",
        stt_remote_url=server,
        tts_remote_url=f"grpc://{server}",
        dialog_remote_url=server,
        speech_remote_timeout_s=7.5,
    )
    stt, tts, dialog = build_stt(settings), build_tts(settings), build_dialog(settings)
    assert isinstance(stt, RemoteSTT) and isinstance(tts, RemoteTTS) and isinstance(dialog, RemoteDialog)
    assert stt.timeout_s == tts.timeout_s == dialog.timeout_s == 7.5
    assert dialog.reply("goodbye", [], []).end_conversation
    with pytest.raises(EngineError, match=r"^tts_engine remote needs tts_remote_url"):
        build_tts(Settings(tts_engine="remote"))
