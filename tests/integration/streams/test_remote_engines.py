"""The speech server as its own process (`python -m streams.engines.speech_server --port 0`), with
Whisper, espeak-ng and the knowledge base, used through the factory's `remote` engines over gRPC."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentiric.settings import Settings
from streams.engines.errors import EngineError
from streams.engines.factory import Engines, build_engines
from streams.engines.remote import RemoteDialog, RemoteSTT, RemoteTTS

ROOT = Path(__file__).parents[3]
SPEECH = ROOT / "tests" / "fixtures" / "speech"
STARTUP_S = 180  # the first run on a machine assembles the Whisper model (145 MB)


def start_server(tmp: Path, cache: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "SENTIRIC_HOME": str(tmp), "SENTIRIC_CACHE_HOME": str(cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streams.engines.speech_server", "--port", "0", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stdout is not None
    stdout = proc.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        first = lines.get(timeout=STARTUP_S)
    except queue.Empty:
        proc.kill()
        proc.wait()
        raise AssertionError(f"the speech server did not start within {STARTUP_S} s") from None
    assert first.startswith("listening on 127.0.0.1:"), first
    return proc, first.split()[-1]


def stop_server(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, machine_cache_dir: Path) -> Iterator[str]:
    proc, address = start_server(tmp_path_factory.mktemp("speech"), machine_cache_dir, "--stt", "whisper")
    yield address
    assert stop_server(proc) == 0


@pytest.fixture(scope="module")
def engines(server: str) -> Engines:
    settings = Settings(
        stt_engine="remote",
        tts_engine="remote",
        dialog_engine="remote",
        stt_remote_url=server,
        tts_remote_url=server,
        dialog_remote_url=server,
        speech_remote_timeout_s=60,
    )
    return build_engines(settings)


def test_transcribes_the_callers_question(engines: Engines) -> None:
    with wave.open(str(SPEECH / "opening_hours_16k.wav")) as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    transcript = engines.stt.transcribe(pcm, rate, "en-US")
    words = transcript.text.lower()
    assert "opening" in words and "hours" in words
    assert transcript.confidence is not None and transcript.confidence > 0.3


def test_synthesized_speech_is_speech_whisper_recognizes(server: str, engines: Engines) -> None:
    speech = RemoteTTS(server, sample_rate=16000).synthesize(
        "You can find us at the central station.", "en-US"
    )
    assert speech.sample_rate == 16000 and len(speech.pcm) > 16000 * 2  # over a second
    words = engines.stt.transcribe(speech.pcm, speech.sample_rate, "en-US").text.lower()
    assert "find us" in words and "station" in words


def test_a_two_turn_conversation_with_the_knowledge_engine(engines: Engines) -> None:
    assert isinstance(engines.dialog, RemoteDialog)
    conversation = engines.dialog.conversation("call-remote-1")
    first = conversation.say("what time do you open")
    assert first.intent == "hours" and not first.end_conversation
    second = conversation.say("ok thanks, bye")
    assert second.intent == "goodbye" and second.end_conversation
    conversation.close()


def test_deadline_shorter_than_whisper_is_an_engine_error(server: str) -> None:
    with wave.open(str(SPEECH / "goodbye_16k.wav")) as w:
        pcm = w.readframes(w.getnframes())
    with pytest.raises(EngineError, match=rf"^remote stt at {server}: DEADLINE_EXCEEDED: "):
        RemoteSTT(server, timeout_s=0.05).transcribe(pcm, 16000, "en-US")


def test_sigterm_stops_the_server_and_clients_get_unavailable(
    tmp_path: Path, machine_cache_dir: Path
) -> None:
    proc, address = start_server(tmp_path, machine_cache_dir, "--services", "dialog")
    dialog = RemoteDialog(address, timeout_s=10)
    assert dialog.reply("where are you", [], []).intent == "address"
    assert stop_server(proc) == 0
    with pytest.raises(EngineError, match=rf"^remote dialog at {address}: UNAVAILABLE: "):
        dialog.reply("where are you", [], [])
