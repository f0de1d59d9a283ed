"""The store's pure part: text reaching PostgreSQL never holds NUL, whatever producer wrote the fact."""

from __future__ import annotations

import dataclasses

from projections.cdr import Projection
from projections.store import NUL_ESCAPE, without_nul
from schemas import models as m
from schemas.samples import sample


def test_a_clean_record_is_returned_as_is() -> None:
    clean = sample(m.CallInviteReceived)
    assert without_nul(clean) is clean


def test_nul_in_any_text_field_is_escaped() -> None:
    dirty = dataclasses.replace(
        sample(m.CallInviteReceived), caller="\x00evil\x00", sdp_offer="v=0\r\n\x00", call_id="c\x00"
    )
    safe = without_nul(dirty)
    assert safe.caller == f"{NUL_ESCAPE}evil{NUL_ESCAPE}"
    assert safe.sdp_offer == f"v=0\r\n{NUL_ESCAPE}"
    assert safe.call_id == f"c{NUL_ESCAPE}"
    assert (safe.event_id, safe.occurred_at, safe.raw_invite) == (
        dirty.event_id,
        dirty.occurred_at,
        dirty.raw_invite,
    )


def test_a_call_keyed_by_an_escaped_id_folds_into_one_row() -> None:
    invite = without_nul(dataclasses.replace(sample(m.CallInviteReceived), call_id="c\x00"))
    ended = without_nul(dataclasses.replace(sample(m.CallEnded, n=2), call_id="c\x00"))
    projection = Projection()
    projection.apply(invite)
    projection.apply(ended)
    (row,) = projection.changed_calls()
    assert row.call_id == f"c{NUL_ESCAPE}" and row.event_count == 2
