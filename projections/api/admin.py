"""`/api/admin/*`: CRUD of dialplans, SIP users, trunks, knowledge entries, prompts and webhooks, as
records on the compacted `sentiric.config` topic (a delete is a tombstone). Admin scope
(``projections.api.auth``).

Writes are acknowledged by the log (`acks=all`) before the response, and applied to this process's
config view at once, so a GET right after a PUT sees it; a log that does not acknowledge within
`api_write_timeout_s` gets the request a 503 saying what became of the record
(`projections.api.writes`). Users are given a password and stored as digest HA1 hashes only (RFC 2617
MD5 and RFC 7616 SHA-256 of `username:realm:password`); webhook secrets are never returned.
"""

from __future__ import annotations

import hashlib
import ipaddress
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from fastapi import Depends, Path, Response
from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator

from projections.api.audit import audit_headers
from projections.api.errors import ApiError
from projections.api.models import ErrorBody
from projections.api.services import Services, services
from projections.api.tenancy import AdminScope, Scope, Tenancy, claim, owned, same_tenant
from projections.api.writes import acknowledged, admin_router
from projections.webhook_targets import TargetRefused, check_url
from projections.webhooks import ALL_TYPES, ReplayResult, replay_parked
from schemas import models as m
from sentiric.hours import parse_hours, zone

NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=NO_NUL)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Z]{2})?$")]
CallLanguage = Annotated[
    str,
    Field(
        pattern=r"^([a-z]{2,3}(-[A-Z]{2})?|auto)$",
        description="BCP 47 tag (tr-TR), or auto: the caller's first words choose",
    ),
]
PromptKind = Literal[
    "greeting", "reprompt", "goodbye_no_input", "goodbye_dtmf", "sorry",
    "handoff_hold", "handoff_unavailable", "handoff_failed",
]  # fmt: skip  # streams.dialog.prompts.KINDS
EntityId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._@+-]{1,128}$")]
# Secrets are write-only: marked so in the OpenAPI document, which the console's forms are built from.
SECRET: Final[dict[str, Any]] = {"writeOnly": True}
FACT_TYPES = tuple(sorted(t.__name__ for t in m.ALL_MODELS if t.FAMILY == "events"))

router = admin_router("/api/admin", "admin", readable=True)  # GETs: read scope (the console)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DialplanIn(Strict):
    pattern: Annotated[
        str,
        Field(
            min_length=1,
            max_length=200,
            pattern=NO_NUL,
            description="called number: exact, a prefix ending in *, or * for any (edge.uas.dialplan)",
        ),
    ]
    priority: Annotated[int, Field(ge=0, le=1_000_000)] = 100
    action: Literal["agent", "prompt_hangup", "transfer", "reject"]
    target: Text | None = None
    prompt_uri: Text | None = None
    reject_status: Annotated[int, Field(ge=400, le=699)] = 403
    require_auth: bool = False
    language: CallLanguage = "en-US"
    access: Literal["open", "trunks_only", "digest_required"] | None = Field(
        default=None,
        description="Who may call; unset: digest_required if require_auth, else the edge's default.",
    )
    busy_action: Literal["reject", "busy_prompt"] | None = Field(
        default=None,
        description="When no dialog worker can serve an agent call: reject (503 + Retry-After; the "
        "default) or busy_prompt (answer, play the edge's busy prompt, hang up).",
    )
    record: bool = Field(default=False, description="Record every answered call of this plan.")
    record_format: Literal["wav", "mp3"] = "wav"
    record_retention_days: Annotated[int, Field(ge=0, le=36_500)] = Field(
        default=0, description="Days a recording is kept, then deleted by the edge; 0: kept."
    )
    ring_ms: Annotated[int | None, Field(ge=0, le=120_000)] = Field(
        default=None, description="Ring (180) this long before answering; unset: the edge's sip_ring_ms."
    )
    hours: Annotated[str | None, Field(max_length=500, pattern=NO_NUL)] = Field(
        default=None,
        description="Business hours, e.g. 'Mon-Fri 09:00-17:00; Sat 10:00-14:00'; unset: always.",
    )
    timezone: Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)] = "UTC"
    out_of_hours: Text | None = Field(default=None, description="Dialplan id applied outside hours.")
    transfer_mode: Literal["refer", "bridge", "attended"] = Field(
        default="refer",
        description="How a handoff reaches the target: refer (REFER the caller; the edge bridges if "
        "refused), bridge (the edge calls the target and joins the calls) or attended (the edge calls "
        "the target, the agent briefs whoever answers, then joins the calls).",
    )
    transfer_ring_s: Annotated[float | None, Field(ge=0, le=40)] = Field(
        default=None,
        description="Seconds (at most 40: the agent takes the caller back after 45) the target may ring "
        "when the edge calls it; unset: the edge's SENTIRIC_TRANSFER_RING_S.",
    )

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            parse_hours(value)  # ValueError: a 422 naming the part
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value


class DialplanOut(DialplanIn):
    id: str


class TrunkIn(Strict):
    name: Text
    sources: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=64, pattern=NO_NUL)]],
        Field(min_length=1, max_length=256, description="source ranges as CIDR, e.g. 192.0.2.0/24"),
    ]
    media_anywhere: bool = False
    enabled: bool = True
    outbound_address: Annotated[
        str | None, Field(max_length=64, description="host:port (IP) for outbound calls to numbers")
    ] = None
    outbound_username: Annotated[str | None, Field(min_length=1, max_length=128, pattern=NO_NUL)] = None
    outbound_password: Annotated[
        str | None,
        Field(max_length=256, pattern=NO_NUL, description="never returned", json_schema_extra=SECRET),
    ] = None
    outbound_from_user: Annotated[
        str | None, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9+._-]+$")
    ] = None
    outbound_max_calls: Annotated[int, Field(ge=0, le=100_000)] = 0
    outbound_calls_per_second: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    outbound_register: bool = False

    @field_validator("outbound_address")
    @classmethod
    def _hostport(cls, address: str | None) -> str | None:
        if address is None:
            return None
        host, _, port = address.strip().rpartition(":")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            raise ValueError(f"not IP:port: {address!r}") from None
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"not IP:port: {address!r}")
        return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"

    @field_validator("sources")
    @classmethod
    def _cidrs(cls, sources: list[str]) -> list[str]:
        out = []
        for cidr in sources:
            try:
                out.append(str(ipaddress.ip_network(cidr.strip(), strict=False)))
            except ValueError as exc:
                raise ValueError(f"not a CIDR range: {cidr!r} ({exc})") from None
        return out


class TrunkOut(TrunkIn):
    id: str


class UserIn(Strict):
    realm: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    password: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL, json_schema_extra=SECRET)]
    enabled: bool = True
    display_name: Annotated[
        str | None,
        Field(min_length=1, max_length=60, pattern=r"^[^\x00-\x1f\x7f{}]+$", description="greeted by it"),
    ] = None


class UserOut(BaseModel):
    id: str
    username: str
    realm: str
    enabled: bool
    display_name: str | None = None


class KnowledgeIn(Strict):
    title: Text
    phrasings: Annotated[list[Text], Field(min_length=1, max_length=100)]
    answer: Annotated[str, Field(min_length=1, max_length=10_000, pattern=NO_NUL)]
    language: Language = "en-US"
    end_conversation: bool = False


class KnowledgeOut(KnowledgeIn):
    id: str


class PromptIn(Strict):
    kind: PromptKind | None = Field(
        default=None,
        description="What the dialog says with it; unset: a prompt referred to by its URI only.",
    )
    language: Language = "en-US"
    text: Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)] | None = None
    uri: Text | None = None

    @model_validator(mode="after")
    def _said(self) -> PromptIn:
        if self.text is None and self.uri is None:
            raise ValueError("a prompt needs a text or a uri")
        if self.kind is not None and self.text is None:
            raise ValueError("a prompt with a kind needs a text (the dialog synthesizes it)")
        return self


class PromptOut(PromptIn):
    id: str


class WebhookIn(Strict):
    url: AnyHttpUrl
    event_types: Annotated[list[Literal[(*FACT_TYPES, ALL_TYPES)]], Field(min_length=1)]  # type: ignore[valid-type]  # a Literal built from the fact types at import
    secret: Annotated[str, Field(min_length=16, max_length=200, pattern=NO_NUL, json_schema_extra=SECRET)]
    enabled: bool = True


class WebhookOut(BaseModel):
    id: str
    url: str
    event_types: list[str]
    enabled: bool


class ReplayOut(BaseModel):
    delivered: int
    parked: int


def _envelope(entity_id: str) -> dict[str, Any]:
    event_id = uuid.uuid4()
    return {
        "event_id": event_id,
        "entity_id": entity_id,
        "occurred_at": datetime.now(UTC),
        "source": "api",
        "trace_id": str(event_id),
    }


def ha1(username: str, realm: str, password: str) -> tuple[str, str]:
    secret = f"{username}:{realm}:{password}".encode()
    return hashlib.md5(secret).hexdigest(), hashlib.sha256(secret).hexdigest()


async def write(svc: Services, record: Any, by: Tenancy) -> Any:
    """Publish a config record stamped with its tenant (409: the id is another tenant's) and who
    asked for it (`projections.api.audit`), acknowledged. Returns the record as written."""
    record = claim(svc.view, record, by)
    tenant = getattr(record, "tenant", by.owner())  # a Tenant record: the platform's own
    topic, headers = svc.config.topics.config, audit_headers(by.principal, tenant)
    await acknowledged(svc, lambda: svc.producer.publish(record, topic=topic, headers=headers))
    svc.view.put(record)
    return record


async def delete(svc: Services, model: type[Any], entity_id: str, by: Tenancy) -> Response:
    """Tombstone a config record (404 when absent or another tenant's), with who asked for it,
    acknowledged."""
    record = owned(svc.view, model, entity_id, by)
    key = f"{model.__name__.lower()}:{entity_id}"
    tenant = getattr(record, "tenant", by.owner())
    topic, headers = svc.config.topics.config, audit_headers(by.principal, tenant)
    await acknowledged(svc, lambda: svc.producer.publish_raw(topic, key.encode(), None, headers))
    svc.view.apply(key, None)
    return Response(status_code=204)


def _found(svc: Services, model: type[Any], entity_id: str, scope: Tenancy) -> Any:
    return owned(svc.view, model, entity_id, scope)


def _tenant_of(svc: Services, model: type[Any], entity_id: str) -> str | None:
    record = svc.view.get(model, entity_id)
    return record.tenant if record is not None else None


def _dialplan_out(r: m.Dialplan) -> dict[str, Any]:
    out = {k: v for k, v in r.to_record().items() if k in DialplanIn.model_fields}
    return {"id": r.entity_id, **out}


def _user_out(r: m.SipUser) -> dict[str, Any]:
    return {
        "id": r.entity_id, "username": r.username, "realm": r.realm, "enabled": r.enabled,
        "display_name": r.display_name,
    }  # fmt: skip


def _trunk_out(r: m.Trunk) -> dict[str, Any]:
    return {
        "id": r.entity_id,
        "name": r.name,
        "sources": list(r.sources),
        "media_anywhere": r.media_anywhere,
        "enabled": r.enabled,
        "outbound_address": r.outbound_address,
        "outbound_username": r.outbound_username,
        "outbound_password": None,  # write-only
        "outbound_from_user": r.outbound_from_user,
        "outbound_max_calls": r.outbound_max_calls,
        "outbound_calls_per_second": r.outbound_calls_per_second,
        "outbound_register": r.outbound_register,
    }


def _knowledge_out(r: m.KnowledgeEntry) -> dict[str, Any]:
    out = {k: v for k, v in r.to_record().items() if k in KnowledgeIn.model_fields}
    return {"id": r.entity_id, **out, "phrasings": list(r.phrasings)}


def _prompt_out(r: m.Prompt) -> dict[str, Any]:
    return {"id": r.entity_id, "kind": r.kind, "language": r.language, "text": r.text, "uri": r.uri}


def _webhook_out(r: m.WebhookSubscription) -> dict[str, Any]:
    return {"id": r.entity_id, "url": r.url, "event_types": list(r.event_types), "enabled": r.enabled}


Svc = Annotated[Services, Depends(services)]
Admin = AdminScope  # who writes (the audit trail's subject) and in which tenant
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}}


# -- dialplans ---------------------------------------------------------------------------------------
@router.get("/dialplans", response_model=list[DialplanOut])
async def list_dialplans(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [_dialplan_out(r) for r in scope.visible(svc.view.all(m.Dialplan))]


@router.get("/dialplans/{entity_id}", response_model=DialplanOut, responses=NOT_FOUND)
async def get_dialplan(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _dialplan_out(_found(svc, m.Dialplan, entity_id, scope))


@router.put("/dialplans/{entity_id}", response_model=DialplanOut)
async def put_dialplan(entity_id: EntityId, body: DialplanIn, svc: Svc, who: Admin) -> dict[str, Any]:
    if body.out_of_hours is not None:  # a dialplan routes only within its own tenant
        tenant = who.owner(_tenant_of(svc, m.Dialplan, entity_id))
        same_tenant(svc.view, m.Dialplan, [body.out_of_hours], tenant, "out_of_hours")
    record = m.Dialplan(**_envelope(entity_id), **body.model_dump())
    return _dialplan_out(await write(svc, record, who))


@router.delete("/dialplans/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_dialplan(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.Dialplan, entity_id, who)


# -- users -------------------------------------------------------------------------------------------
@router.get("/users", response_model=list[UserOut])
async def list_users(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [_user_out(r) for r in scope.visible(svc.view.all(m.SipUser))]


@router.get("/users/{entity_id}", response_model=UserOut, responses=NOT_FOUND)
async def get_user(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _user_out(_found(svc, m.SipUser, entity_id, scope))


@router.put("/users/{entity_id}", response_model=UserOut)
async def put_user(entity_id: EntityId, body: UserIn, svc: Svc, who: Admin) -> dict[str, Any]:
    md5, sha256 = ha1(entity_id, body.realm, body.password)
    record = m.SipUser(
        **_envelope(entity_id),
        username=entity_id,
        realm=body.realm,
        ha1_md5=md5,
        ha1_sha256=sha256,
        enabled=body.enabled,
        display_name=body.display_name.strip() if body.display_name else None,
    )
    await write(svc, record, who)
    return _user_out(record)


@router.delete("/users/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_user(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.SipUser, entity_id, who)


# -- trunks ------------------------------------------------------------------------------------------
@router.get("/trunks", response_model=list[TrunkOut])
async def list_trunks(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [_trunk_out(r) for r in scope.visible(svc.view.all(m.Trunk))]


@router.get("/trunks/{entity_id}", response_model=TrunkOut, responses=NOT_FOUND)
async def get_trunk(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _trunk_out(_found(svc, m.Trunk, entity_id, scope))


@router.put("/trunks/{entity_id}", response_model=TrunkOut)
async def put_trunk(entity_id: EntityId, body: TrunkIn, svc: Svc, who: Admin) -> dict[str, Any]:
    """A trusted peer by source ranges: its calls bypass digest auth and per-source limits."""
    fields = body.model_dump()
    fields["sources"] = tuple(fields["sources"])
    record = m.Trunk(**_envelope(entity_id), **fields)
    await write(svc, record, who)
    return _trunk_out(record)


@router.delete("/trunks/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_trunk(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.Trunk, entity_id, who)


# -- knowledge ---------------------------------------------------------------------------------------
@router.get("/knowledge", response_model=list[KnowledgeOut])
async def list_knowledge(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [_knowledge_out(r) for r in scope.visible(svc.view.all(m.KnowledgeEntry))]


@router.get("/knowledge/{entity_id}", response_model=KnowledgeOut, responses=NOT_FOUND)
async def get_knowledge(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _knowledge_out(_found(svc, m.KnowledgeEntry, entity_id, scope))


@router.put("/knowledge/{entity_id}", response_model=KnowledgeOut)
async def put_knowledge(entity_id: EntityId, body: KnowledgeIn, svc: Svc, who: Admin) -> dict[str, Any]:
    fields = body.model_dump()
    fields["phrasings"] = tuple(fields["phrasings"])
    record = m.KnowledgeEntry(**_envelope(entity_id), **fields)
    await write(svc, record, who)
    return _knowledge_out(record)


@router.delete("/knowledge/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_knowledge(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.KnowledgeEntry, entity_id, who)


# -- prompts -----------------------------------------------------------------------------------------
@router.get("/prompts", response_model=list[PromptOut])
async def list_prompts(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [_prompt_out(r) for r in scope.visible(svc.view.all(m.Prompt))]


@router.get("/prompts/{entity_id}", response_model=PromptOut, responses=NOT_FOUND)
async def get_prompt(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _prompt_out(_found(svc, m.Prompt, entity_id, scope))


@router.put("/prompts/{entity_id}", response_model=PromptOut)
async def put_prompt(entity_id: EntityId, body: PromptIn, svc: Svc, who: Admin) -> dict[str, Any]:
    record = m.Prompt(**_envelope(entity_id), **body.model_dump())
    await write(svc, record, who)
    return _prompt_out(record)


@router.delete("/prompts/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_prompt(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.Prompt, entity_id, who)


# -- webhooks ----------------------------------------------------------------------------------------
@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(svc: Svc, scope: Scope) -> list[dict[str, Any]]:
    return [_webhook_out(r) for r in scope.visible(svc.view.all(m.WebhookSubscription))]


@router.get("/webhooks/{entity_id}", response_model=WebhookOut, responses=NOT_FOUND)
async def get_webhook(entity_id: EntityId, svc: Svc, scope: Scope) -> dict[str, Any]:
    return _webhook_out(_found(svc, m.WebhookSubscription, entity_id, scope))


@router.put("/webhooks/{entity_id}", response_model=WebhookOut)
async def put_webhook(entity_id: EntityId, body: WebhookIn, svc: Svc, who: Admin) -> dict[str, Any]:
    try:  # private, loopback and link-local targets only when allowed (SSRF)
        await check_url(str(body.url), allow_private=svc.config.webhook_policy.allow_private_targets)
    except TargetRefused as exc:
        raise ApiError(422, "webhook target refused", {"url": str(body.url), "reason": str(exc)}) from None
    record = m.WebhookSubscription(
        **_envelope(entity_id),
        url=str(body.url),
        event_types=tuple(dict.fromkeys(body.event_types)),
        secret=body.secret,
        enabled=body.enabled,
    )
    await write(svc, record, who)
    return _webhook_out(record)


@router.delete("/webhooks/{entity_id}", status_code=204, responses=NOT_FOUND)
async def delete_webhook(entity_id: EntityId, svc: Svc, who: Admin) -> Response:
    return await delete(svc, m.WebhookSubscription, entity_id, who)


@router.post("/webhooks/{entity_id}/replay", response_model=ReplayOut, responses=NOT_FOUND)
async def replay_webhook(entity_id: EntityId, svc: Svc, who: Admin) -> ReplayResult:
    """Re-deliver the facts parked for this subscription since the last replay."""
    sub = _found(svc, m.WebhookSubscription, entity_id, who)
    return await replay_parked(
        sub,
        pool=svc.pool,
        client=svc.config.client,
        topics=svc.config.topics,
        producer=svc.producer,
        policy=svc.dispatcher.policy if svc.dispatcher else svc.config.webhook_policy,
    )
