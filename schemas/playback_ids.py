"""Playback ids of a reply spoken in pieces (a streamed reply, `AgentReplied.final` false).

A reply voiced whole plays under its `reply_id`. A streamed reply's pieces play under
``<reply_id>#<part>``: one family, so a ``StopPlayback`` naming the reply id stops every queued and
playing piece of it at once (barge-in), while each piece still has its own ``PlaybackStarted`` /
``PlaybackFinished``, and the dialog knows the reply has played when its last piece has.
"""

from __future__ import annotations

from typing import Final

PIECE_SEPARATOR: Final = "#"


def piece_playback_id(reply_id: str, part: int, last: bool) -> str:
    """The playback id of one piece: the reply id itself for a reply voiced whole (part 0, last)."""
    if part == 0 and last:
        return reply_id
    return f"{reply_id}{PIECE_SEPARATOR}{part}"


def family_of(playback_id: str) -> str:
    """The reply id a piece belongs to (the id itself for a whole reply)."""
    head, separator, tail = playback_id.rpartition(PIECE_SEPARATOR)
    return head if separator and tail.isdigit() else playback_id


def in_family(playback_id: str | None, family: str) -> bool:
    """Whether `playback_id` is `family` or one of its pieces (what ``StopPlayback(family)`` stops)."""
    if playback_id is None:
        return False
    return playback_id == family or family_of(playback_id) == family
