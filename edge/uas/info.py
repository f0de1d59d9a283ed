"""DTMF carried in SIP INFO bodies (the de-facto formats; there is no RFC for them).

``application/dtmf-relay`` (Cisco/SIPp style), one ``name=value`` per line::

    Signal=5
    Duration=160

``application/dtmf``: the body is the digit alone (``5``; ``10`` and ``11`` mean ``*`` and ``#``).
"""

from __future__ import annotations

DIGITS = frozenset("0123456789*#ABCD")
DEFAULT_DURATION_MS = 160
_NUMERIC_EVENTS = {"10": "*", "11": "#", "12": "A", "13": "B", "14": "C", "15": "D"}


def _digit(value: str) -> str | None:
    value = value.strip().upper()
    value = _NUMERIC_EVENTS.get(value, value)
    return value if value in DIGITS and len(value) == 1 else None


def parse_dtmf_info(content_type: str, body: bytes) -> tuple[str, int] | None:
    """``(digit, duration_ms)`` from an INFO body, or None when it holds no valid digit."""
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        return None
    if content_type == "application/dtmf":
        digit = _digit(text)
        return (digit, DEFAULT_DURATION_MS) if digit else None
    fields: dict[str, str] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        name, eq, value = line.partition("=")
        if eq:
            fields[name.strip().lower()] = value.strip()
    digit = _digit(fields.get("signal", ""))
    if digit is None:
        return None
    duration = fields.get("duration", "")
    return digit, int(duration) if duration.isdigit() else DEFAULT_DURATION_MS
