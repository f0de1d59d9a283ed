"""Prompts the edge plays by itself, shipped as package data.

``busy.wav`` ("All our lines are busy. Please call again later."), 8 kHz mono 16-bit, made once with
``espeak-ng -v en-us -s 160 -w raw.wav "…" && sox raw.wav -r 8000 -c 1 -b 16 busy.wav``: the edge
plays it when no dialog worker can serve a call (dialplan ``busy_action = "busy_prompt"``) and as the
fallback when an answered call's greeting does not start in time (``edge.uas.fallback``).
``busy_tr.wav`` says the same in Turkish ("Tüm hatlarımız meşgul. Lütfen daha sonra tekrar arayın.",
``espeak-ng -v tr -s 150``) for calls whose dialplan language is Turkish; any other language hears
the English one.
"""

from pathlib import Path

BUSY_PROMPT = Path(__file__).with_name("busy.wav")
BUSY_PROMPTS = {"tr": Path(__file__).with_name("busy_tr.wav")}


def busy_prompt(language: str | None) -> Path:
    """The busy prompt in the call's language (its primary subtag: ``tr-TR`` → Turkish)."""
    primary = (language or "").split("-")[0].lower()
    return BUSY_PROMPTS.get(primary, BUSY_PROMPT)
