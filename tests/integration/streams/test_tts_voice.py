"""The default voice for real: hibari speaks the knowledge answers, the edge's path to a G.711 caller
(16 kHz fact → 8 kHz → µ-law → back) keeps them intelligible to the platform's own Whisper base, and
synthesis needs no network: the voice is inside the package, nothing is fetched at run time."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.media.codecs.g711 import ulaw_decode, ulaw_encode
from edge.media.codecs.resample import TELEPHONY_RATE, resample
from sentiric.settings import Settings
from streams.agents import speech
from streams.dialog.language import for_language
from streams.dialog.script import CallScript
from streams.engines.factory import build_tts
from streams.engines.knowledge import load_knowledge
from streams.engines.whisper import WhisperSTT

ROOT = Path(__file__).resolve().parents[3]
ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen".split()
ONES += "sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def _cardinal(n: int) -> str:
    if n < 20:
        return ONES[n]
    if n < 100:
        return TENS[n // 10] + ("" if n % 10 == 0 else " " + ONES[n % 10])
    return " ".join(ONES[int(d)] for d in str(n))  # not in the answers: read digit by digit


US_SPELLING = {"harbour": "harbor"}  # Whisper writes American English


def words(text: str) -> list[str]:
    """Lower-case words, numbers as spoken ('45' and 'forty-five' alike), no punctuation."""
    spoken = re.sub(r"\d+", lambda d: f" {_cardinal(int(d.group()))} ", text.lower().replace("-", " "))
    return [US_SPELLING.get(w, w) for w in re.sub(r"[^a-z' ]", " ", spoken).split()]


def heard(word: str, hypothesis: list[str]) -> bool:
    """The word is in the transcript, or (4 letters or more) inside a compound: 'Harbour Bikes' is
    often written 'Harborbikes'."""
    return word in hypothesis or (len(word) >= 4 and word in "".join(hypothesis))


@pytest.fixture(scope="module")
def whisper(machine_cache_dir: Path) -> WhisperSTT:
    return WhisperSTT(machine_cache_dir)


def test_whisper_finds_every_knowledge_answers_words_through_g711(whisper: WhisperSTT) -> None:
    tts = build_tts(Settings())  # the default: hibari for English
    missing: dict[str, list[str]] = {}
    total = found = 0
    for i, entry in enumerate(for_language(load_knowledge(), "en-US")):
        fact = speech.synthesize(CallScript().replied(f"u{i}", entry.answer), tts, "en-US")
        assert (fact.engine, fact.sample_rate) == ("hibari", 16000)
        line = resample(np.frombuffer(fact.pcm, dtype="<i2"), fact.sample_rate, TELEPHONY_RATE)
        at_caller = ulaw_decode(ulaw_encode(line))  # what a PCMU caller hears
        text = whisper.transcribe(at_caller.astype("<i2").tobytes(), TELEPHONY_RATE, "en-US").text
        ref, hyp = words(entry.answer), words(text)
        lost = [w for w in ref if not heard(w, hyp)]
        total, found = total + len(ref), found + len(ref) - len(lost)
        if lost:
            missing[entry.answer] = lost
        assert len(lost) <= max(1, len(ref) // 10), f"{entry.answer!r} heard as {text!r}"
    assert found / total >= 0.95, missing


OFFLINE_SCRIPT = r"""
import json, socket, sys

attempts = []
def audit(event, args):
    if event.startswith(("socket.connect", "socket.getaddrinfo", "urllib.Request")):
        attempts.append(event)
sys.addaudithook(audit)

# The sandbox is real: no route anywhere (ENETUNREACH), and the hook sees the attempt.
try:
    socket.create_connection(("192.0.2.1", 443), timeout=2)
    reachable = True
except OSError:
    reachable = False
control = list(attempts)
attempts.clear()

from sentiric.settings import Settings
from streams.engines.factory import build_tts

tts = build_tts(Settings())
english = tts.synthesize("We are open Monday to Friday from nine to six.", "en-US")
turkish = tts.synthesize("Pazartesi ile cuma arasi aciktir.", "tr-TR")
print(json.dumps({
    "reachable": reachable, "control": control, "attempts": attempts,
    "english": [english.engine, english.sample_rate, len(english.pcm)],
    "turkish": [turkish.engine, turkish.sample_rate, len(turkish.pcm)],
}))
"""


def test_synthesis_runs_with_no_network_at_all(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    assert unshare is not None, "util-linux `unshare` is needed (as for bench/fuzz_edge.py)"
    netns = [unshare, "--net"] if os.geteuid() == 0 else [unshare, "--map-root-user", "--net"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HIBARI_", "SENTIRIC_"))}
    env.update(PYTHONPATH=str(ROOT), HIBARI_HOME=str(tmp_path / "hibari"), HOME=str(tmp_path))
    proc = subprocess.run(
        [*netns, sys.executable, "-c", OFFLINE_SCRIPT],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["reachable"] is False and "socket.connect" in out["control"]
    assert out["attempts"] == []  # loading and speaking tried no connection, no lookup, no URL
    engine, rate, size = out["english"]
    assert (engine, rate) == ("hibari", 16000) and size > 2 * 16000  # over a second of speech
    engine, rate, size = out["turkish"]
    assert engine == "espeak-ng" and size > 2 * rate  # espeak-ng's own rate; the worker resamples
    assert not (tmp_path / "hibari").exists()  # nothing was put in hibari's download cache
