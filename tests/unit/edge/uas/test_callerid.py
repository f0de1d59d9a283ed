"""Caller identification: contacts and SIP users by the From user, before the greeting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from edge.uas.callerid import CallerBook, caller_fields, caller_key
from schemas import models as m
from tests.support.uas_harness import Phone, make_edge

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def _env(entity_id: str) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "entity_id": entity_id,
        "occurred_at": NOW,
        "source": "api",
        "trace_id": "t",
    }


def contact(entity_id: str, *numbers: str, name: str = "Alice", **kw: Any) -> m.Contact:
    return m.Contact(**_env(entity_id), numbers=numbers, name=name, **kw)


def user(entity_id: str, username: str, display_name: str | None = None, enabled: bool = True) -> m.SipUser:
    return m.SipUser(
        **_env(entity_id), username=username, realm="sentiric", ha1_md5="0" * 32, ha1_sha256="0" * 64,
        enabled=enabled, display_name=display_name,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("+49 30 123-456", "+4930123456"),
        ("004930123456", "+4930123456"),
        ("(030) 123.456", "030123456"),
        ("alice", "alice"),
        ("Alice", "Alice"),  # SIP user names compare as written
        ("+49abc", "+49abc"),  # not a number: as it is
    ],
)
def test_caller_key_reads_numbers_without_separators(given: str, key: str) -> None:
    assert caller_key(given) == key


def test_contact_numbers_match_in_any_writing_and_win_over_sip_users() -> None:
    book = CallerBook()
    book.apply("sipuser", "u1", user("u1", "+4930123456", "Desk phone"))
    book.apply(
        "contact", "alice", contact("alice", "+49 30 123456", language="de-DE", profile='{"tier": "gold"}')
    )
    known = book.lookup("004930123456")
    assert known is not None
    assert (known.matched_by, known.entity_id, known.name, known.language, known.profile) == (
        "contact",
        "alice",
        "Alice",
        "de-DE",
        '{"tier": "gold"}',
    )
    book.apply("contact", "alice", None)  # deleted: the SIP user's display name speaks again
    known = book.lookup("+4930123456")
    assert known is not None and (known.matched_by, known.name) == ("sip_user", "Desk phone")


def test_unknown_disabled_and_nameless_callers() -> None:
    book = CallerBook()
    book.apply("contact", "bob", contact("bob", "+1555", name="Bob", enabled=False))
    book.apply("sipuser", "u2", user("u2", "1002"))  # no display name: known, but nameless
    book.apply("sipuser", "u3", user("u3", "1003", "Carol", enabled=False))
    assert book.lookup("+1555") is None
    assert book.lookup("1003") is None
    assert book.lookup("") is None and book.lookup("nobody") is None
    known = book.lookup("1002")
    assert known is not None and known.name is None


def test_one_number_on_two_contacts_goes_to_the_smaller_id_whatever_the_order() -> None:
    a, b = CallerBook(), CallerBook()
    for book, order in ((a, ("zed", "amy")), (b, ("amy", "zed"))):
        for entity_id in order:
            book.apply("contact", entity_id, contact(entity_id, "+1999", name=entity_id.title()))
    assert a.lookup("+1999") == b.lookup("+1999")
    assert a.lookup("+1999").name == "Amy"  # type: ignore[union-attr]  # asserted equal and found


def test_unknown_caller_fields() -> None:
    assert caller_fields("+1555", None, '"The Boss"') == {
        "caller": "+1555", "caller_matched_by": "none", "caller_contact_id": None, "caller_name": None,
        "caller_language": None, "caller_profile": "{}", "caller_claimed_name": '"The Boss"',
    }  # fmt: skip


def _invite_from(phone: Phone, display: bytes) -> bytes:
    raw = bytes(phone.request("INVITE", to_tag="", body=b""))
    return raw.replace(b"From: <sip:alice@", b"From: " + display + b" <sip:alice@", 1)


def test_the_edge_records_the_known_caller_on_dialplan_resolved() -> None:
    edge = make_edge()
    edge.directory.callers.apply("contact", "c1", contact("c1", "alice", name="Alice Smith"))
    Phone(edge).call()
    (resolved,) = [f for f in edge.facts() if isinstance(f, m.DialplanResolved)]
    assert (
        resolved.caller,
        resolved.caller_matched_by,
        resolved.caller_contact_id,
        resolved.caller_name,
    ) == ("alice", "contact", "c1", "Alice Smith")


def test_a_from_display_name_is_recorded_safe_and_never_taken_as_the_name() -> None:
    edge = make_edge()  # nobody configured: "alice" is unknown whatever her phone calls her
    phone = Phone(edge)
    phone.send(_invite_from(phone, b'"The CEO\\\\ \x01"'), 0.0)
    (resolved,) = [f for f in edge.facts() if isinstance(f, m.DialplanResolved)]
    assert resolved.caller == "alice" and resolved.caller_matched_by == "none"
    assert resolved.caller_name is None
    assert resolved.caller_claimed_name is not None and "\x01" not in resolved.caller_claimed_name
    assert "The CEO" in resolved.caller_claimed_name


def test_an_edited_contact_leaves_its_old_numbers_and_a_shared_number_falls_back() -> None:
    book = CallerBook()
    book.apply("contact", "a", contact("a", "+1111", "+2222", name="Amy"))
    book.apply("contact", "b", contact("b", "+2222", name="Ben"))
    assert book.lookup("+2222").name == "Amy"  # type: ignore[union-attr]  # the smaller id
    book.apply("contact", "a", contact("a", "+3333", name="Amy"))  # Amy changed numbers
    assert book.lookup("+1111") is None
    assert book.lookup("+2222").name == "Ben"  # type: ignore[union-attr]  # now only Ben's
    assert book.lookup("+3333").name == "Amy"  # type: ignore[union-attr]
    book.apply("contact", "a", contact("a", "+3333", name="Amy", enabled=False))
    assert book.lookup("+3333") is None and len(book) == 2
