"""The admin audit trail: who changed which config record, how, and when — read from the log itself.

Every admin write (`/api/admin/*` PUT and DELETE, tokens included) goes to the compacted
`sentiric.config` topic with a Kafka header ``sentiric-requested-by`` naming the token or session
subject (`Principal.name`), the way operator commands carry ``requested_by``. A header rather than an
Avro field because a delete is a tombstone: it has no value to hold a field, but it has headers. The
record's own Kafka timestamp says when (the producer's create time).

``GET /api/admin/audit`` reads the topic from its beginning to its current end and lists every record
on it, newest first: ``{"at", "by", "action": "put"|"delete", "kind", "id", "offset"}``. ``by`` is None
for records written without the header (the sample business seeded by the API, the CLI, records older
than the header). Nothing but the log holds the trail, so it survives any projection rebuild; what
compaction removes (earlier versions of a key once their segment is compacted, tombstones after
``delete.retention.ms``) leaves the trail with it — a retained copy would be a projection of this read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from fastapi import Depends, Query
from pydantic import BaseModel

from projections.api.services import Services, services
from projections.api.tenancy import AdminScope
from projections.api.writes import admin_router
from sentiric.auth import Principal
from sentiric.eventlog.consumer import partition_counts

AUDIT_HEADER: Final = "sentiric-requested-by"
TENANT_HEADER: Final = "sentiric-tenant"  # the tenant the changed record belongs to (issue 15)
MAX_ENTRIES: Final = 1000

router = admin_router("/api/admin", "admin")
Svc = Annotated[Services, Depends(services)]


def audit_headers(principal: Principal, tenant: str | None = None) -> tuple[tuple[str, bytes], ...]:
    """The headers an admin write carries: who asked for it, and the changed record's tenant (a
    record without it, written before tenants, is "default"'s)."""
    tenant = principal.tenant if tenant is None else tenant
    return ((AUDIT_HEADER, principal.name.encode()), (TENANT_HEADER, tenant.encode()))


class AuditEntry(BaseModel):
    at: datetime
    by: str | None
    action: Literal["put", "delete"]
    kind: str
    id: str
    offset: int
    tenant: str = "default"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """What the audit needs of one config-topic record (aiokafka's `ConsumerRecord`, minus the rest)."""

    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    timestamp_ms: int
    offset: int


def entry(record: RawRecord) -> AuditEntry | None:
    """One record as an audit line; None for a record that names no entity (no `<kind>:<id>` key)."""
    if record.key is None:
        return None
    kind, sep, entity_id = record.key.decode("utf-8", "replace").partition(":")
    if not sep or not kind or not entity_id:
        return None
    by = next((v.decode("utf-8", "replace") for k, v in record.headers if k == AUDIT_HEADER), None)
    tenant = next((v.decode("utf-8", "replace") for k, v in record.headers if k == TENANT_HEADER), "default")
    return AuditEntry(
        at=datetime.fromtimestamp(record.timestamp_ms / 1000, UTC),
        by=by,
        action="delete" if record.value is None else "put",
        kind=kind,
        id=entity_id,
        offset=record.offset,
        tenant=tenant,
    )


def trail(
    records: Iterable[RawRecord], *, limit: int, kind: str | None = None, tenant: str | None = None
) -> list[AuditEntry]:
    """The newest `limit` entries (of `kind`, of `tenant`, when given), newest first."""
    entries = [
        e
        for r in records
        if (e := entry(r)) is not None
        and (kind is None or e.kind == kind)
        and (tenant is None or e.tenant == tenant)
    ]
    entries.sort(key=lambda e: (e.at, e.offset), reverse=True)
    return entries[:limit]


def raw(msg: ConsumerRecord[bytes, bytes]) -> RawRecord:
    return RawRecord(msg.key, msg.value, tuple(msg.headers or ()), msg.timestamp, msg.offset)


async def read_config_topic(topic: str, **client: Any) -> list[RawRecord]:
    """Every record on the config topic (all partitions) from the beginning to the current end."""
    out: list[RawRecord] = []
    partitions = (await partition_counts(lambda names: [topic], **client)).get(topic, 0)
    if not partitions:
        return out
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **client)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > await consumer.position(tp)}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000, max_records=5000)
            for tp, msgs in batch.items():
                out.extend(raw(msg) for msg in msgs if msg.offset < ends[tp])
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return out


@router.get("/audit", response_model=list[AuditEntry])
async def audit(
    svc: Svc,
    scope: AdminScope,
    kind: Annotated[str | None, Query(pattern=r"^[a-z]{1,64}$", description="e.g. dialplan")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_ENTRIES)] = 200,
) -> list[AuditEntry]:
    """Config changes, newest first: when, by whom (the token or session subject), put or delete,
    which record (`kind` is the key's prefix: dialplan, sipuser, trunk, knowledge, prompt, action,
    webhooksubscription, apitoken)."""
    records = await read_config_topic(svc.config.topics.config, **svc.config.client)
    return trail(records, limit=limit, kind=kind, tenant=scope.tenant)
