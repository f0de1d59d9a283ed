"""Playback ids of streamed replies: one family per reply."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from schemas.playback_ids import family_of, in_family, piece_playback_id


def test_a_whole_reply_plays_under_its_own_id_and_pieces_under_numbered_ones() -> None:
    assert piece_playback_id("u1:reply", 0, True) == "u1:reply"
    assert piece_playback_id("u1:reply", 0, False) == "u1:reply#0"
    assert piece_playback_id("u1:reply", 3, True) == "u1:reply#3"


def test_families() -> None:
    assert family_of("u1:reply#2") == "u1:reply" and family_of("u1:reply") == "u1:reply"
    assert family_of("menu#main") == "menu#main"  # an operator's id with a '#' is its own family
    assert in_family("u1:reply#0", "u1:reply") and in_family("u1:reply", "u1:reply")
    assert not in_family("u1:reply#0", "u1:rep") and not in_family(None, "u1:reply")
    assert not in_family("u1:reply#0", "u1:reply#1")


@given(st.text(min_size=1), st.integers(min_value=0, max_value=1000), st.booleans())
def test_every_piece_is_in_its_reply_family(reply_id: str, part: int, last: bool) -> None:
    assert in_family(piece_playback_id(reply_id, part, last), reply_id)
