"""`/api/admin/contacts`: CRUD of known callers (`Contact` config records on `sentiric.config`).

A contact is who a caller id is: the numbers (E.164, `+4930123456`) or SIP user names they call from,
the name the agent greets them by, a preferred language and free-form profile fields (strings) that
agent actions see in the call's context. The edge looks the From user up before the greeting
(`edge.uas.callerid`); a number may be written with separators (`+49 30 123-456`), compared without.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from projections.api.admin import NOT_FOUND, Admin, EntityId, Language, _envelope, _found, delete, write
from projections.api.services import Services, services
from projections.api.tenancy import Scope
from projections.api.writes import admin_router
from schemas import models as m

router = admin_router("/api/admin", "admin")
Svc = Annotated[Services, Depends(services)]
CallerId = Annotated[
    str,
    Field(
        pattern=r"^(\+?[0-9 ().\-/]{1,40}|[A-Za-z0-9._!~*'&=$,;?/%+-]{1,64})$",
        description="an E.164 number (separators allowed) or a SIP user name, as in the From URI",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f{}]+$")]
FieldName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
MAX_PROFILE_CHARS = 1000
FieldValue = Annotated[str, Field(max_length=200, pattern=r"^[^\x00]*$")]


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: Annotated[list[CallerId], Field(min_length=1, max_length=20)]
    name: Name
    language: Language | None = None
    profile: Annotated[dict[FieldName, FieldValue], Field(max_length=32)] = Field(default_factory=dict)
    enabled: bool = True

    @field_validator("profile")
    @classmethod
    def _fits_a_fact(cls, profile: dict[str, str]) -> dict[str, str]:
        # It rides on every call's DialplanResolved, whose text fields are bounded (schemas.wiretext).
        if len(json.dumps(profile, sort_keys=True)) > MAX_PROFILE_CHARS:
            raise ValueError(f"profile is too large ({MAX_PROFILE_CHARS} characters of JSON at most)")
        return profile


class ContactOut(BaseModel):
    id: str
    numbers: list[str]
    name: str
    language: str | None
    profile: dict[str, str]
    enabled: bool


def contact_out(r: m.Contact) -> dict[str, Any]:
    try:
        profile = json.loads(r.profile)
    except ValueError:
        profile = {}
    return {
        "id": r.entity_id, "numbers": list(r.numbers), "name": r.name, "language": r.language,
        "profile": profile if isinstance(profile, dict) else {}, "enabled": r.enabled,
    }  # fmt: skip


@router.get("/contacts", response_model=list[ContactOut])
async def list_contacts(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [contact_out(r) for r in scope.visible(svc.view.all(m.Contact))]


@router.get("/contacts/{entity_id}", response_model=ContactOut, responses=NOT_FOUND)
async def get_contact(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return contact_out(_found(svc, m.Contact, entity_id, scope))


@router.put("/contacts/{entity_id}", response_model=ContactOut)
async def put_contact(entity_id: EntityId, body: ContactIn, svc: Svc, who: Admin) -> dict[str, Any]:
    record = m.Contact(
        **_envelope(entity_id), numbers=tuple(n.strip() for n in body.numbers), name=body.name.strip(),
        language=body.language, profile=json.dumps(body.profile, sort_keys=True), enabled=body.enabled,
    )  # fmt: skip
    await write(svc, record, who)
    return contact_out(record)


@router.delete("/contacts/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_contact(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.Contact, entity_id, who)
