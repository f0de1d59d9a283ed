"""The API's request counter takes label values from closed sets: a method is any token on the wire."""

from __future__ import annotations

from projections.api.app import method_label


def test_an_unknown_http_method_is_counted_as_other() -> None:
    assert [method_label(m) for m in ("GET", "POST", "XFUZZQ", "get", "G\udcffT")] == [
        "GET",
        "POST",
        "other",
        "other",
        "other",
    ]
