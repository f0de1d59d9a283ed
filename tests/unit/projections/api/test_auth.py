"""The API guard's pure parts: where a sign-in may send the browser back to."""

from __future__ import annotations

import pytest

from projections.api.auth import OPEN_ROUTES, PAGES, safe_next


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/talk", "/talk"),
        ("/#call=abc", "/#call=abc"),
        ("/api/calls?limit=5", "/api/calls?limit=5"),
        (None, "/"),
        ("", "/"),
        ("talk", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("/x\r\nSet-Cookie: a=b", "/"),
        ("/" + "a" * 3000, "/"),
    ],
)
def test_safe_next(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_the_open_routes_are_the_sign_in_page_and_the_health_probe() -> None:
    assert {path for _, path in OPEN_ROUTES} == {
        "/healthz", "/signin", "/signout", "/web/style.css", "/web/favicon.svg", "/favicon.ico",
        "/api/sample/bookings",
    }  # fmt: skip
    assert not PAGES & {path for _, path in OPEN_ROUTES}
