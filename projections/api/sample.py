"""The sample business's booking endpoint, and its "book a service appointment" action.

`sentiric up` points `sample_action_url` at `POST /api/sample/bookings` on this API (loopback), and
the first API to start with it set creates the sample `Action`s when the config topic holds no
action yet, each with a fresh random secret: `book-service` in English and `book-service-tr` in
Turkish (for the Turkish sample business on extension 2000: "yarın saat onda servis randevusu almak
istiyorum"). The endpoint takes no bearer token: the dialog worker authenticates the way action
endpoints do, by the request's HMAC signature (`X-Sentiric-Signature`, `streams.agents.actions`)
under the secret of the action it names (`X-Sentiric-Action`; `book-service` when absent), which
must be an action pointed at this endpoint — so an admin may configure more of them (another
language, other triggers) — and it answers 401 to anything else.
Bookings land in `sample_bookings` (PostgreSQL), once per request id (a retried or
redelivered request gets the same booking back). `GET /api/sample/bookings` (read scope) lists them.

Request body: `{"action", "request_id", "call_id", "arguments": {"date": "YYYY-MM-DD", "time":
"HH:MM", "name"}}`; answer: `{"booking_id", "date", "time", "name", "spoken_id", "message"}`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Final

import structlog
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from projections.api.errors import ApiError
from projections.api.services import Services, services
from projections.api.tenancy import Scope
from projections.webhooks import SIGNATURE_HEADER, verify
from schemas import models as m
from sentiric.sample_business import SAMPLE_TENANT, sample_tenant

log = structlog.get_logger(__name__)
SAMPLE_ACTION_ID: Final = "book-service"
SAMPLE_ACTION_TR_ID: Final = "book-service-tr"
ACTION_HEADER: Final = "X-Sentiric-Action"
BOOKINGS_PATH: Final = "/api/sample/bookings"
MAX_BODY: Final = 16_384
SAMPLE_PARAMETERS: Final = {
    "type": "object",
    "properties": {
        "date": {
            "type": "string",
            "format": "date",
            "description": "day",
            "x-ask": "Which day would you like?",
        },
        "time": {
            "type": "string",
            "format": "time",
            "description": "time",
            "x-ask": "What time would suit you?",
        },
        "name": {
            "type": "string",
            "description": "name",
            "x-ask": "What name should I put the booking under?",
        },
    },
    "required": ["date", "time", "name"],
}

router = APIRouter(prefix="/api/sample", tags=["sample"])
Svc = Annotated[Services, Depends(services)]


class BookingArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: date
    time: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


class BookingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    request_id: Annotated[str, Field(min_length=1, max_length=300)]
    call_id: Annotated[str, Field(min_length=1, max_length=100)]
    arguments: BookingArguments


class BookingOut(BaseModel):
    booking_id: str
    date: str
    time: str
    name: str
    spoken_id: str
    message: str


def sample_action(url: str, secret: str) -> m.Action:
    event_id = uuid.uuid4()
    return m.Action(
        event_id=event_id, entity_id=SAMPLE_ACTION_ID, occurred_at=datetime.now(UTC), source="api",
        trace_id=str(event_id), name="book_service_appointment",
        description="book a service appointment", parameters=json.dumps(SAMPLE_PARAMETERS), url=url,
        secret=secret, timeout_s=3.0, retries=1,
        triggers=("book a service", "book an appointment", "make an appointment", "book my bike in"),
        confirm_text="Shall I book a service appointment for {name} on {date} at {time}?",
        done_text="You're booked in, {name}: {date} at {time}. Your booking number is {spoken_id}.",
        fallback_text="I'm sorry, I can't book right now. Please try again in a few minutes, or drop by "
        "the shop during opening hours and we'll fit you in.",
        language="en-US", enabled=True,
    )  # fmt: skip


SAMPLE_PARAMETERS_TR: Final = {
    "type": "object",
    "properties": {
        "date": {"type": "string", "format": "date", "description": "gün", "x-ask": "Hangi gün istersiniz?"},
        "time": {"type": "string", "format": "time", "description": "saat", "x-ask": "Saat kaçta olsun?"},
        "name": {"type": "string", "description": "isim", "x-ask": "Randevuyu kimin adına oluşturayım?"},
    },
    "required": ["date", "time", "name"],
}  # fmt: skip


def sample_action_tr(url: str, secret: str) -> m.Action:
    """The sample action in Turkish: the same endpoint, Turkish triggers and texts (slots read by
    `streams.dialog.slots_tr`, digits said in Turkish by `streams.engines.spoken`)."""
    event_id = uuid.uuid4()
    return m.Action(
        event_id=event_id, entity_id=SAMPLE_ACTION_TR_ID, occurred_at=datetime.now(UTC), source="api",
        trace_id=str(event_id), name="servis_randevusu_olustur",
        description="servis randevusu oluşturma", parameters=json.dumps(SAMPLE_PARAMETERS_TR), url=url,
        secret=secret, timeout_s=3.0, retries=1,
        triggers=("servis randevusu", "randevu almak", "randevu oluşturmak", "bisikletimi servise"),
        confirm_text="{name} adına {date} saat {time} için servis randevusu oluşturayım mı?",
        done_text="Randevunuz oluşturuldu, {name}: {date} saat {time}. Randevu numaranız {spoken_id}.",
        fallback_text="Üzgünüm, şu anda randevu oluşturamıyorum. Lütfen birkaç dakika sonra tekrar "
        "deneyin ya da çalışma saatlerimizde dükkâna uğrayın.",
        language="tr-TR", enabled=True, tenant=SAMPLE_TENANT,  # the Turkish sample business's own
    )  # fmt: skip


async def ensure_sample_action(svc: Services) -> None:
    """On first run (no action on the config topic): create the sample booking actions, and (no
    tenant on it) the Turkish sample business's tenant record, so it is listed and can be edited."""
    url = svc.config.sample_action_url
    if url is None:
        return
    await svc.view.wait_ready(within_s=60.0)
    if not svc.view.all(m.Tenant):
        tenant = sample_tenant(source="api")
        svc.producer.publish(tenant, topic=svc.config.topics.config)
        await svc.producer.flush()
        svc.view.put(tenant)
        log.info("sample tenant created", tenant=tenant.entity_id)
    if svc.view.all(m.Action):
        return
    records = (sample_action(url, secrets.token_hex(24)), sample_action_tr(url, secrets.token_hex(24)))
    for record in records:  # both, then one flush: one burst on the log, as one record was
        svc.producer.publish(record, topic=svc.config.topics.config)
    await svc.producer.flush()
    for record in records:
        svc.view.put(record)
        log.info("sample booking action created", action=record.entity_id, url=url)


def start(svc: Services) -> None:
    if svc.config.sample_action_url is not None:
        svc.tasks.append(asyncio.create_task(ensure_sample_action(svc), name="sample-action"))


def _spoken_id(n: int) -> str:
    return f"{n:06d}"[-6:]


@router.post("/bookings", response_model=BookingOut, responses={401: {}, 404: {}, 422: {}})
async def book(request: Request, svc: Svc) -> dict[str, Any]:
    """Book a service appointment (signed by the secret of the action it names, one pointed at this
    endpoint; no bearer token)."""
    named = request.headers.get(ACTION_HEADER, SAMPLE_ACTION_ID)
    action = svc.view.get(m.Action, named)
    if action is None or svc.config.sample_action_url is None or action.url != svc.config.sample_action_url:
        raise ApiError(404, "no sample booking action of that name is configured", {"action": named})
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ApiError(422, "body too large", {"max": MAX_BODY})
    if not verify(body, action.secret, request.headers.get(SIGNATURE_HEADER, "")):
        raise ApiError(401, "bad or missing signature", {"header": SIGNATURE_HEADER})
    try:
        req = BookingRequest.model_validate_json(body)
    except ValidationError as exc:
        raise ApiError(422, "invalid booking request", {"errors": exc.errors(include_url=False)}) from None
    args = req.arguments
    booking_id = _spoken_id(secrets.randbelow(1_000_000))
    at = time.fromisoformat(args.time)
    async with svc.pool.acquire() as conn:
        row = await conn.fetchrow(
            # the booking belongs to the tenant of the call that made it (issue 15)
            "INSERT INTO sample_bookings (booking_id, request_id, call_id, day, at, name, tenant) "
            "VALUES ($1, $2, $3, $4, $5, $6, "
            "coalesce((SELECT tenant FROM calls WHERE call_id = $3), 'default')) "
            "ON CONFLICT (request_id) DO NOTHING RETURNING booking_id",
            booking_id, req.request_id, req.call_id, args.date, at, args.name,
        )  # fmt: skip
        if row is None:  # this request booked already: the same booking again
            row = await conn.fetchrow(
                "SELECT booking_id, day, at, name FROM sample_bookings WHERE request_id = $1", req.request_id
            )
            assert row is not None
            args = BookingArguments(date=row["day"], time=row["at"].strftime("%H:%M"), name=row["name"])
    bid = str(row["booking_id"])
    return {
        "booking_id": bid, "date": args.date.isoformat(), "time": args.time, "name": args.name,
        "spoken_id": " ".join(bid),  # said digit by digit
        "message": f"You're booked in, {args.name}. Your booking number is {' '.join(bid)}.",
    }  # fmt: skip


class BookingRow(BaseModel):
    booking_id: str
    call_id: str
    date: str
    time: str
    name: str


@router.get("/bookings", response_model=list[BookingRow])
async def list_bookings(
    svc: Svc, scope: Scope, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[dict[str, Any]]:
    """The sample bookings of the tenant, newest first (read scope)."""
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT booking_id, call_id, day, at, name FROM sample_bookings "
            "WHERE ($2::text IS NULL OR tenant = $2) ORDER BY booked_at DESC LIMIT $1",
            limit,
            scope.tenant,
        )
    return [
        {"booking_id": r["booking_id"], "call_id": r["call_id"], "date": r["day"].isoformat(),
         "time": r["at"].strftime("%H:%M"), "name": r["name"]}
        for r in rows
    ]  # fmt: skip
