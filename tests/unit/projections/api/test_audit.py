"""The audit trail's pure part: config-topic records (key, value or tombstone, headers, timestamp) →
audit lines, newest first."""

from __future__ import annotations

from datetime import UTC, datetime

from projections.api.audit import AUDIT_HEADER, TENANT_HEADER, RawRecord, audit_headers, entry, trail
from sentiric.auth import Principal

T0 = 1_796_000_000_000  # ms


def record(key: bytes | None, value: bytes | None, by: str | None, at_ms: int, offset: int) -> RawRecord:
    headers = ((AUDIT_HEADER, by.encode()),) if by is not None else ()
    return RawRecord(key, value, (("traceparent", b"00-x"), *headers), at_ms, offset)


def test_a_put_and_a_tombstone_say_who_what_and_when() -> None:
    put = entry(record(b"knowledgeentry:opening", b"\xc3\x01avro", "ops-team", T0, 7))
    assert put is not None
    assert (put.by, put.action, put.kind, put.id) == ("ops-team", "put", "knowledgeentry", "opening")
    assert put.offset == 7
    assert put.at == datetime.fromtimestamp(T0 / 1000, UTC)
    gone = entry(record(b"dialplan:main", None, "admin", T0 + 5, 8))
    assert gone is not None
    assert (gone.action, gone.kind, gone.id, gone.by) == ("delete", "dialplan", "main", "admin")


def test_records_without_the_header_have_no_subject_and_keys_without_a_kind_are_no_entries() -> None:
    seeded = entry(record(b"action:book_service", b"v", None, T0, 1))
    assert seeded is not None and seeded.by is None
    assert entry(record(None, b"v", "x", T0, 2)) is None
    assert entry(record(b"no-kind", b"v", "x", T0, 3)) is None
    assert entry(record(b":id", b"v", "x", T0, 4)) is None
    assert entry(record(b"kind:", b"v", "x", T0, 5)) is None


def test_trail_is_newest_first_filtered_and_limited() -> None:
    records = [
        record(b"dialplan:a", b"v", "alice", T0, 0),
        record(b"prompt:p", b"v", "bob", T0 + 1000, 1),
        record(b"dialplan:a", None, "bob", T0 + 2000, 2),
        record(b"dialplan:b", b"v", "alice", T0 + 2000, 3),  # same millisecond: the later offset first
    ]
    assert [(e.kind, e.id, e.offset) for e in trail(records, limit=10)] == [
        ("dialplan", "b", 3), ("dialplan", "a", 2), ("prompt", "p", 1), ("dialplan", "a", 0),
    ]  # fmt: skip
    assert [e.offset for e in trail(records, limit=2, kind="dialplan")] == [3, 2]
    assert trail(records, limit=10, kind="trunk") == []


def test_the_subject_goes_in_the_header() -> None:
    who = Principal(token_id="t1", name="ops-team", scopes=frozenset({"admin"}), via="session")
    assert audit_headers(who) == ((AUDIT_HEADER, b"ops-team"), (TENANT_HEADER, b"default"))
    assert audit_headers(who, "acme")[1] == (TENANT_HEADER, b"acme")


def test_the_trail_of_one_tenant() -> None:
    def raw(offset: int, tenant: bytes | None) -> RawRecord:
        headers = ((AUDIT_HEADER, b"x"),) + (((TENANT_HEADER, tenant),) if tenant is not None else ())
        return RawRecord(b"dialplan:d", b"v", headers, 1_700_000_000_000 + offset, offset)

    records = [raw(0, None), raw(1, b"acme"), raw(2, b"globex")]
    assert [e.offset for e in trail(records, limit=10, tenant="acme")] == [1]
    assert [e.offset for e in trail(records, limit=10, tenant="default")] == [0]  # before tenants
    assert len(trail(records, limit=10)) == 3
