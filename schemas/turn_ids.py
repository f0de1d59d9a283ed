"""Ids of the caller turns the dialog records itself, shared by the dialog, the projections and replay.

An early answer (`streams.dialog.machine`: a stable partial transcript, or the words up to a pause
of the caller) is recorded as an ``UtteranceTranscribed`` of engine ``partial`` whose utterance id
names the caller's utterance it was taken from: ``<utterance id>:early:<seq>``. The caller's own
turn stays that utterance's (its capture and final transcript); the early turn only carries the
answer, so transcripts and CDR turns skip it, and latency reads (voice-to-voice, stages) pair its
reply with the utterance it answers.
"""

from __future__ import annotations

from typing import Final

EARLY_ENGINE: Final = "partial"
"""`engine` of the transcript the dialog records when it answers a caller's words before their final."""
EARLY_MARK: Final = ":early:"


def early_utterance_id(utterance_id: str, seq: int) -> str:
    """The early turn answering the words of ``utterance_id`` so far (``seq``: the dialog's own)."""
    return f"{utterance_id}{EARLY_MARK}{seq}"


def answered_utterance(utterance_id: str) -> str:
    """The caller's utterance a turn answers: its own id, or an early turn's cause."""
    head, mark, tail = utterance_id.rpartition(EARLY_MARK)
    return head if mark and tail.isdigit() else utterance_id


def is_early(utterance_id: str) -> bool:
    return answered_utterance(utterance_id) != utterance_id
