"""The SIP methods the UAS core knows, what it answers for each, and their metric labels."""

from __future__ import annotations

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, REFER, REGISTER"
KNOWN_UNSUPPORTED = frozenset({"SUBSCRIBE", "PUBLISH", "MESSAGE", "UPDATE", "PRACK"})
IN_DIALOG_ONLY = frozenset({"BYE", "INFO", "NOTIFY"})
# The answer to OPTIONS, in or out of a dialog (RFC 3261 §11.2).
OPTIONS_HEADERS = (("Allow", ALLOW), ("Accept", "application/sdp"))

METHOD_LABELS = frozenset(
    {"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "NOTIFY", "REFER", *KNOWN_UNSUPPORTED}
)


def method_label(method: str) -> str:
    """A method as a metric label: any token is a method on the wire, and every distinct label value
    is a time series kept for ever — so the label set is closed."""
    return method if method in METHOD_LABELS else "other"
