"""`/api/admin/actions`: CRUD of agent actions (`Action` config records on `sentiric.config`).

An action is a signed HTTPS call the dialog engine makes once the caller has given its parameters
(`streams.engines.actions`). Its endpoint follows the webhook rule (`projections.webhook_targets`):
public addresses only unless private targets are allowed, with one exception, the built-in sample
booking endpoint (`ApiConfig.sample_action_url`), which `sentiric up` serves on loopback. Plain
`http://` is refused for any other endpoint: the arguments carry callers' names and times. The
`parameters` JSON Schema is checked as a schema (Draft 2020-12) and must describe an object whose
properties are the slots the engine fills. Secrets are never returned.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Response
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]  # no stubs shipped
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]  # no stubs shipped
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from projections.api.admin import NOT_FOUND, SECRET, Admin, EntityId, Language, Text, delete, write
from projections.api.errors import ApiError
from projections.api.services import Services, services
from projections.api.tenancy import Scope, owned
from projections.api.writes import admin_router
from projections.webhook_targets import TargetRefused, check_url
from schemas import models as m

router = admin_router("/api/admin", "admin", readable=True)  # GETs: read scope (the console)
Svc = Annotated[Services, Depends(services)]
LongText = Annotated[str, Field(max_length=1000, pattern=r"^[^\x00]*$")]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", description="tool name")]
    description: Text
    parameters: dict[str, Any] = Field(description="JSON Schema of the arguments: an object schema")
    url: AnyHttpUrl
    secret: Annotated[
        str, Field(min_length=16, max_length=200, pattern=r"^[^\x00]*$", json_schema_extra=SECRET)
    ]
    timeout_s: Annotated[float, Field(gt=0, le=30)] = 5.0
    retries: Annotated[int, Field(ge=0, le=5)] = 1
    triggers: Annotated[list[Text], Field(min_length=1, max_length=100)]
    confirm_text: LongText = ""
    done_text: LongText = ""
    fallback_text: LongText = ""
    language: Language = "en-US"
    enabled: bool = True

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise ValueError(f"not a JSON Schema: {exc.message}") from None
        props = schema.get("properties")
        if schema.get("type") != "object" or not isinstance(props, dict) or not props:
            raise ValueError("parameters must be an object schema with at least one property")
        if len(json.dumps(schema)) > 20_000:
            raise ValueError("parameters schema is too large (20000 characters at most)")
        return schema


class ActionOut(BaseModel):
    id: str
    name: str
    description: str
    parameters: dict[str, Any]
    url: str
    timeout_s: float
    retries: int
    triggers: list[str]
    confirm_text: str
    done_text: str
    fallback_text: str
    language: str
    enabled: bool


def action_out(r: m.Action) -> dict[str, Any]:
    fields = {k: v for k, v in r.to_record().items() if k in ActionOut.model_fields}
    return {**fields, "id": r.entity_id, "parameters": json.loads(r.parameters), "triggers": list(r.triggers)}


async def check_endpoint(url: str, *, sample_url: str | None, allow_private: bool) -> None:
    """422 unless the endpoint may be called (see the module doc)."""
    if sample_url is not None and url == sample_url:
        return  # the built-in sample endpoint, on loopback by design
    if not url.startswith("https://"):
        raise ApiError(422, "action endpoint refused", {"url": url, "reason": "the endpoint must be https"})
    try:
        await check_url(url, allow_private=allow_private)
    except TargetRefused as exc:
        raise ApiError(422, "action endpoint refused", {"url": url, "reason": str(exc)}) from None


@router.get("/actions", response_model=list[ActionOut])
async def list_actions(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [action_out(r) for r in scope.visible(svc.view.all(m.Action))]


@router.get("/actions/{entity_id}", response_model=ActionOut, responses=NOT_FOUND)
async def get_action(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return action_out(owned(svc.view, m.Action, entity_id, scope))


@router.put("/actions/{entity_id}", response_model=ActionOut)
async def put_action(entity_id: EntityId, body: ActionIn, svc: Svc, who: Admin) -> dict[str, Any]:
    url = str(body.url)
    await check_endpoint(
        url,
        sample_url=svc.config.sample_action_url,
        allow_private=svc.config.webhook_policy.allow_private_targets,
    )
    event_id = uuid.uuid4()
    fields = body.model_dump()
    fields.update(url=url, triggers=tuple(body.triggers))
    fields["parameters"] = json.dumps(body.parameters, sort_keys=True)
    record = m.Action(
        event_id=event_id,
        entity_id=entity_id,
        occurred_at=datetime.now(UTC),
        source="api",
        trace_id=str(event_id),
        **fields,
    )
    await write(svc, record, who)
    return action_out(record)


@router.delete("/actions/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_action(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.Action, entity_id, who)
