"""Dialog and speech pipeline numbers: reducer throughput and per-stage latency of embedded engines.

    .venv/bin/python bench/dialog_bench.py [--calls 2000] [--repeat 5]

Prints: reducer facts/s and decisions/s over scripted whole calls (pure `decide`), the same through
the agent's adapter step (Avro decode + decide + encode + JSON state), and the median / max latency
of STT on a 2 s phone-line utterance (faster-whisper base, CPU int8, beam 1; PocketSphinx in
grammar mode), of the knowledge-base reply, and of hibari and espeak-ng TTS of one sentence.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from schemas.codec import encode  # noqa: E402
from streams.agents.dialog import step  # noqa: E402
from streams.dialog.machine import DEFAULT_POLICY, decide, new_state  # noqa: E402
from streams.dialog.script import CallScript  # noqa: E402


def scripted_call(call_id: str) -> list[Any]:
    """A three-turn call with barge-in and a no-input reprompt, as the log would hold it."""
    s = CallScript(call_id)
    state = new_state(call_id)
    facts: list[Any] = []

    def feed(*more: Any) -> None:
        nonlocal state
        for f in more:
            facts.append(f)
            state, _ = decide(state, f)

    def play() -> None:
        rid = state.pending_reply
        assert rid is not None
        feed(s.synthesized(rid), *s.played(rid))

    feed(*s.setup(), s.established())
    play()
    assert state.timer is not None
    feed(s.timer("no_input", state.timer.armed_seq))
    play()
    for i, text in enumerate(["opening hours", "where are you", "prices"], 1):
        uid = f"u{i}"
        feed(s.speech(uid), s.captured(uid), s.transcribed(uid, text), s.replied(uid, f"answer {i}"))
        if i == 2:
            feed(s.synthesized(f"{uid}:reply"), s.speech(f"b{i}"))  # barge-in
            feed(s.transcribed(f"b{i}", "and on sunday"), s.replied(f"b{i}", "closed"))
        play()
    feed(s.dtmf("0"))
    play()
    feed(s.ended())
    return facts


def bench_reducer(calls: int) -> None:
    scripts = [scripted_call(f"call-{i}") for i in range(calls)]
    n_facts = sum(len(f) for f in scripts)
    start = time.perf_counter()
    n_decisions = 0
    for facts in scripts:
        state = new_state(facts[0].call_id)
        for fact in facts:
            state, decisions = decide(state, fact)
            n_decisions += len(decisions)
    elapsed = time.perf_counter() - start
    print(f"reducer: {calls} calls, {n_facts} facts, {n_decisions} decisions in {elapsed:.3f} s")
    print(f"  {n_facts / elapsed:,.0f} facts/s, {n_decisions / elapsed:,.0f} decisions/s")

    encoded = [[(f.call_id.encode(), encode(f)) for f in facts] for facts in scripts[: max(1, calls // 4)]]
    count = sum(len(e) for e in encoded)
    start = time.perf_counter()
    for messages in encoded:
        stored: bytes | None = None
        for key, value in messages:
            out = step(stored, key, value, DEFAULT_POLICY, 0.0)
            if out.changed:
                stored = None if out.stored is None else bytes(out.stored)
    elapsed = time.perf_counter() - start
    print(f"agent step (decode + decide + encode + state JSON): {count / elapsed:,.0f} facts/s")


def _stats(label: str, samples: list[float], unit: str = "ms", scale: float = 1.0) -> None:
    med, top = statistics.median(samples) * scale, max(samples) * scale
    print(f"{label}: median {med:.1f} {unit}, max {top:.1f} {unit} over {len(samples)} runs")


def bench_engines(repeat: int) -> None:
    from streams.dialog.language import for_language
    from streams.engines.espeak import EspeakTTS
    from streams.engines.hibari import HibariTTS
    from streams.engines.knowledge import KnowledgeEngine, load_knowledge
    from streams.engines.whisper import WhisperSTT

    with wave.open(str(ROOT / "tests" / "fixtures" / "speech" / "opening_hours_16k.wav")) as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    pcm += b"\0\0" * (2 * rate - len(pcm) // 2)  # pad to exactly 2.0 s
    cache = Path(os.environ.get("SENTIRIC_CACHE_HOME", Path(tempfile.gettempdir()) / "sentiric-bench-cache"))
    t0 = time.perf_counter()
    stt = WhisperSTT(cache)
    print(f"whisper load (model in {cache}): {time.perf_counter() - t0:.1f} s, {os.cpu_count()} CPUs")
    samples, text = [], ""
    for _ in range(repeat):
        t = time.perf_counter()
        text = stt.transcribe(pcm, rate, "en-US").text
        samples.append((time.perf_counter() - t) * 1000)
    _stats(f"STT whisper, 2.0 s utterance -> {text!r}", samples)

    from streams.engines.pocketsphinx_grammar import PocketsphinxGrammarSTT

    grammar_stt = PocketsphinxGrammarSTT(p for e in load_knowledge() for p in e.phrasings)
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        text = grammar_stt.transcribe(pcm, rate, "en-US").text
        samples.append((time.perf_counter() - t) * 1000)
    _stats(f"STT pocketsphinx grammar, 2.0 s utterance -> {text!r}", samples)

    # As the worker does: each call's language picks its entries (`for_language`) on every reply.
    kb, engine = load_knowledge(), KnowledgeEngine()
    by_language = {
        "en-US": [
            "what are your opening hours",
            "where is your shop",
            "how much is a service",
            "do you sell pizza",
        ],
        "tr-TR": ["çalışma saatleriniz nedir", "CALISMA SAATLERINIZ", "dükkanınız nerede", "hava nasıl"],
    }
    for mixed in (False, True):
        samples = []
        for _ in range(200):
            for language, questions in by_language.items():
                if not mixed and language != "en-US":
                    continue
                for q in questions:
                    t = time.perf_counter()
                    engine.reply(q, [], for_language(kb, language))
                    samples.append((time.perf_counter() - t) * 1000)
        label = "English and Turkish calls alternating" if mixed else "English calls"
        _stats(f"KB reply ({label})", samples, "µs", 1000.0)

    sentence = "We are open Monday to Friday from nine in the morning to six in the evening."
    for tts in (
        HibariTTS(),
        EspeakTTS(),
    ):  # the default English voice, the other languages' (bench/tts_bench.py)
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            speech = tts.synthesize(sentence, "en-US")
            samples.append((time.perf_counter() - t) * 1000)
        audio_s = len(speech.pcm) / 2 / speech.sample_rate
        _stats(f"TTS {tts.name} one sentence ({audio_s:.1f} s of audio)", samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-engines", action="store_true")
    args = parser.parse_args()
    bench_reducer(args.calls)
    if not args.no_engines:
        bench_engines(args.repeat)


if __name__ == "__main__":
    main()
