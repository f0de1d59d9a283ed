"""Fast grammar-mode speech recognition with PocketSphinx (the en-US model ships in its wheel).

The grammar is JSGF (W3C Java Speech Grammar Format) built from the knowledge base's phrasings: the
caller is recognized as saying one of the phrasings the dialog engine knows, which it then maps to its
entry exactly. Tens of milliseconds per utterance instead of Whisper's second, at the price of never
hearing anything outside the grammar (out-of-grammar speech comes out as the nearest phrasing, with
a low posterior as the confidence). Grammar, for phrasings p1…pn::

    #JSGF V1.0;
    grammar knowledge;
    public <utterance> = p1 | p2 | … | pn ;

Words missing from the pronunciation dictionary are dropped from a phrasing (a phrasing left empty is
dropped); tokens are lower-case `[a-z']+`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

import numpy as np
import soxr

from streams.engines.errors import EngineError
from streams.engines.stt import Transcript

MODEL_RATE: Final = 16000
_TOKEN = re.compile(r"[a-z']+")


def build_jsgf(phrasings: Iterable[str], known: Callable[[str], bool]) -> str:
    alternatives: list[str] = []
    for phrasing in phrasings:
        words = [w.strip("'") for w in _TOKEN.findall(phrasing.lower())]
        line = " ".join(w for w in words if w and known(w))
        if line and line not in alternatives:
            alternatives.append(line)
    if not alternatives:
        raise EngineError("no phrasing has a word the recognizer knows; cannot build a grammar")
    return "#JSGF V1.0;\ngrammar knowledge;\npublic <utterance> = " + " | ".join(alternatives) + " ;\n"


class PocketsphinxGrammarSTT:
    """SpeechToText recognizing the knowledge base's phrasings (en-US)."""

    name = "pocketsphinx-grammar"

    def __init__(self, phrasings: Iterable[str]) -> None:
        from pocketsphinx import Decoder

        self._decoder: Any = Decoder(samprate=MODEL_RATE, lm=None, loglevel="ERROR")
        self.grammar = build_jsgf(phrasings, lambda w: self._decoder.lookup_word(w) is not None)
        try:
            self._decoder.add_jsgf_string("knowledge", self.grammar)
        except RuntimeError as exc:
            raise EngineError(f"pocketsphinx rejected the grammar: {exc}") from None
        self._decoder.activate_search("knowledge")
        self._lock = threading.Lock()

    def transcribe(self, pcm: bytes, sample_rate: int, language: str) -> Transcript:
        if len(pcm) % 2:
            raise EngineError(f"PCM of odd length {len(pcm)}")
        if sample_rate != MODEL_RATE:
            audio = np.frombuffer(pcm, dtype="<i2")
            pcm = soxr.resample(audio, sample_rate, MODEL_RATE, quality="HQ").astype("<i2").tobytes()
        with self._lock:
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
        if hyp is None:
            return Transcript("", language, None)
        return Transcript(hyp.hypstr, language, float(hyp.prob))
