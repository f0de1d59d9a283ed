"""The speech cache: a repeated text is spoken once, memory stays bounded, errors are not remembered."""

from __future__ import annotations

import threading

import pytest

from streams.engines.errors import EngineError
from streams.engines.speech_cache import SpeechCache
from streams.engines.tts import Speech


class Counting:
    name = "counting"

    def __init__(self, size: int = 100) -> None:
        self.size = size
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def synthesize(self, text: str, language: str) -> Speech:
        with self._lock:
            self.calls.append((text, language))
        if text == "fail":
            raise EngineError("no voice")
        return Speech(text.encode()[:1] * self.size, 16000, engine="counting")


def test_a_repeated_text_is_synthesized_once() -> None:
    engine = Counting()
    cache = SpeechCache(engine, 1000)
    first = cache.synthesize("Hello, thank you for calling.", "en-US")
    again = cache.synthesize("Hello, thank you for calling.", "en-US")
    assert again is first and engine.calls == [("Hello, thank you for calling.", "en-US")]
    assert (cache.hits, cache.misses, cache.name) == (1, 1, "counting")


def test_the_language_is_part_of_the_key() -> None:
    engine = Counting()
    cache = SpeechCache(engine, 1000)
    cache.synthesize("Hello", "en-US")
    cache.synthesize("Hello", "tr-TR")
    assert engine.calls == [("Hello", "en-US"), ("Hello", "tr-TR")]


def test_bounded_by_bytes_least_recently_used_out_first() -> None:
    engine = Counting(size=100)
    cache = SpeechCache(engine, 300)
    for text in ("a", "b", "c"):
        cache.synthesize(text, "en")
    cache.synthesize("a", "en")  # a is now the most recent
    cache.synthesize("d", "en")  # over 300 bytes: b, the least recent, goes
    assert (len(cache), cache.size) == (3, 300)
    engine.calls.clear()
    for text in ("a", "c", "d", "b"):
        cache.synthesize(text, "en")
    assert engine.calls == [("b", "en")]


def test_a_result_larger_than_the_cache_is_returned_not_kept() -> None:
    cache = SpeechCache(Counting(size=500), 300)
    assert len(cache.synthesize("long", "en").pcm) == 500
    assert (len(cache), cache.size) == (0, 0)


def test_errors_are_not_remembered() -> None:
    engine = Counting()
    cache = SpeechCache(engine, 1000)
    for _ in range(2):
        with pytest.raises(EngineError, match=r"^no voice$"):
            cache.synthesize("fail", "en")
    assert len(engine.calls) == 2 and len(cache) == 0


def test_threads_share_it() -> None:
    engine = Counting(size=10)
    cache = SpeechCache(engine, 10 * 50)
    start = threading.Barrier(8)
    wrong: list[str] = []

    def run(n: int) -> None:
        start.wait()
        for i in range(200):
            text = str((i * n) % 70)
            if cache.synthesize(text, "en").pcm != text.encode()[:1] * 10:
                wrong.append(text)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert cache.size == 10 * len(cache) <= 500
    assert cache.hits + cache.misses == 8 * 200 and cache.misses == len(engine.calls)


def test_a_size_is_required() -> None:
    with pytest.raises(ValueError, match=r"^max_bytes must be positive, got 0$"):
        SpeechCache(Counting(), 0)
