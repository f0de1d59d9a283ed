"""Prompts the edge plays by itself, shipped as package data.

``busy.wav`` ("All our lines are busy. Please call again later."), 8 kHz mono 16-bit, made once with
``espeak-ng -v en-us -s 160 -w raw.wav "…" && sox raw.wav -r 8000 -c 1 -b 16 busy.wav``: the edge
plays it when no dialog worker can serve a call (dialplan ``busy_action = "busy_prompt"``) and as the
fallback when an answered call's greeting does not start in time (``edge.uas.fallback``).
"""

from pathlib import Path

BUSY_PROMPT = Path(__file__).with_name("busy.wav")
