"""`/api/calls/{call_id}/…` operator actions on a live call: hang up, say a text, mute/unmute the
agent, start/stop recording, transfer.

Each is a command on the owning edge's topic (`sentiric.commands.<edge_node>`, the node named in the
call's facts) carrying ``requested_by`` = the token's subject, so the call's timeline (its facts and
commands, `GET /api/calls/{id}/events`) shows who asked.  Admin scope.  Which call is live is read from
the CDR projection: an unknown call is 404, one that has ended (or was refused) 409, and ``say`` /
recording / transfer on a call not answered yet 409 as well.  The projection trails the log by the
projector's lag, so a command may still reach an edge whose call has just ended; the edge ignores a
command for a call it does not have.

``say`` sends a ``PlayAudio`` with only its ``text``: the edge synthesizes it with the TTS the
announcements use (`edge.uas.prompt_hangup.PromptPlayer.say`) and records ``SpeechSynthesized``.
The answer is 202 once the log has acknowledged the command (503 when it cannot, `writes.acknowledged`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from projections.api.auth import require_admin
from projections.api.calls import CallId
from projections.api.errors import ApiError
from projections.api.models import ErrorBody
from projections.api.services import Services, services
from projections.api.tenancy import AdminScope, Tenancy
from projections.api.writes import acknowledged
from schemas import models as m

router = APIRouter(
    prefix="/api/calls",
    tags=["live calls"],
    dependencies=[Depends(require_admin)],
    responses={
        401: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody, "description": "No such call"},
        409: {"model": ErrorBody, "description": "The call has ended, or is not answered yet"},
        422: {"model": ErrorBody},
        503: {"model": ErrorBody, "description": "log unavailable: the command was not acknowledged"},
    },
)
SIP_TARGET = r"^(sips?|tel):[^\s\x00]{1,250}$"
RECORDING_ID = r"^[A-Za-z0-9_.-]{1,64}$"


class HangupBody(BaseModel):
    reason: str = Field(default="operator_hangup", min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")


class SayBody(BaseModel):
    text: str = Field(min_length=1, max_length=1000)
    barge_in: bool = False


class RecordingBody(BaseModel):
    format: Literal["wav", "mp3"] = "wav"


class StopRecordingBody(BaseModel):
    recording_id: str = Field(pattern=RECORDING_ID)


class TransferBody(BaseModel):
    target: str = Field(pattern=SIP_TARGET, description="sip:, sips: or tel: URI")
    mode: Literal["blind", "bridge", "attended"] | None = Field(
        default=None,
        description="blind: REFER the caller (the edge bridges if refused); bridge: the edge calls the "
        "target and joins the calls; attended: the edge calls the target, briefs whoever answers, then "
        "joins the calls. Unset: the call's dialplan transfer_mode.",
    )
    brief: str | None = Field(
        default=None, min_length=1, max_length=400, pattern=r"^[^\x00-\x1f\x7f]+$",
        description="attended: why the caller is handed over, said to the person after "
        "'Transferring <caller>:'",
    )  # fmt: skip


class Accepted(BaseModel):
    call_id: str
    command: str
    command_id: str
    requested_by: str
    detail: dict[str, Any] = {}


Svc = Annotated[Services, Depends(services)]
Operator = AdminScope


async def live_call(svc: Services, call_id: str, scope: Tenancy, *, answered: bool) -> tuple[str, str]:
    """The edge node owning ``call_id`` and the call's tenant, if the call is live and the scope's
    (404 unknown or another tenant's, 409 ended/unanswered)."""
    async with svc.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT edge_node, answered_at, ended_at, rejected_at, cancelled_at, tenant FROM calls "
            "WHERE call_id = $1 AND ($2::text IS NULL OR tenant = $2)",
            call_id,
            scope.tenant,
        )
    if row is None or row["edge_node"] is None:
        raise ApiError(404, "call not found", {"call_id": call_id})
    if row["ended_at"] is not None or row["rejected_at"] is not None or row["cancelled_at"] is not None:
        raise ApiError(409, "call has ended", {"call_id": call_id})
    if answered and row["answered_at"] is None:
        raise ApiError(409, "call is not answered yet", {"call_id": call_id})
    node: str = row["edge_node"]
    return node, row["tenant"]


def envelope(call_id: str, operator: Tenancy, tenant: str) -> dict[str, Any]:
    """The command's common fields: it carries the call's tenant and who asked."""
    return {
        "tenant": tenant,
        "event_id": uuid.uuid4(),
        "call_id": call_id,
        "seq": 0,
        "occurred_at": datetime.now(UTC),
        "source": "api",
        "trace_id": call_id,
        "requested_by": operator.principal.name,
    }


async def send(svc: Services, node: str, command: Any, **detail: Any) -> Accepted:
    topic = f"{svc.config.topics.commands_prefix}{node}"
    await acknowledged(svc, lambda: svc.producer.publish(command, topic=topic, key=command.call_id))
    return Accepted(
        call_id=command.call_id,
        command=type(command).__name__,
        command_id=str(command.event_id),
        requested_by=command.requested_by,
        detail=detail,
    )


@router.post("/{call_id}/hangup", status_code=202, response_model=Accepted)
async def hangup(call_id: CallId, body: HangupBody, svc: Svc, operator: Operator) -> Accepted:
    """End the call: the edge sends BYE (or 480 to a call still ringing)."""
    node, tenant = await live_call(svc, call_id, operator, answered=False)
    return await send(svc, node, m.Hangup(**envelope(call_id, operator, tenant), reason=body.reason))


@router.post("/{call_id}/say", status_code=202, response_model=Accepted)
async def say(call_id: CallId, body: SayBody, svc: Svc, operator: Operator) -> Accepted:
    """Say ``text`` to the caller (synthesized by the edge)."""
    node, tenant = await live_call(svc, call_id, operator, answered=True)
    playback_id = f"operator-{uuid.uuid4()}"
    command = m.PlayAudio(
        **envelope(call_id, operator, tenant), playback_id=playback_id, text=body.text, barge_in=body.barge_in
    )
    return await send(svc, node, command, playback_id=playback_id)


@router.post("/{call_id}/recording/start", status_code=202, response_model=Accepted)
async def start_recording(call_id: CallId, body: RecordingBody, svc: Svc, operator: Operator) -> Accepted:
    """Record the call under the recordings root (the edge writes it; `RecordingFinished` names it)."""
    root = svc.config.recordings_root
    if root is None:
        raise ApiError(409, "no recordings root is configured", {"call_id": call_id})
    node, tenant = await live_call(svc, call_id, operator, answered=True)
    recording_id = f"operator-{uuid.uuid4().hex[:12]}"
    uri = (root / f"{call_id}-{recording_id}.{body.format}").resolve().as_uri()
    command = m.StartRecording(
        **envelope(call_id, operator, tenant), recording_id=recording_id, output_uri=uri, format=body.format
    )
    return await send(svc, node, command, recording_id=recording_id, output_uri=uri)


@router.post("/{call_id}/recording/stop", status_code=202, response_model=Accepted)
async def stop_recording(call_id: CallId, body: StopRecordingBody, svc: Svc, operator: Operator) -> Accepted:
    node, tenant = await live_call(svc, call_id, operator, answered=True)
    command = m.StopRecording(**envelope(call_id, operator, tenant), recording_id=body.recording_id)
    return await send(svc, node, command, recording_id=body.recording_id)


@router.post("/{call_id}/transfer", status_code=202, response_model=Accepted)
async def transfer(call_id: CallId, body: TransferBody, svc: Svc, operator: Operator) -> Accepted:
    """Transfer the caller to ``target``: blind (REFER), bridged or attended (``mode``)."""
    node, tenant = await live_call(svc, call_id, operator, answered=True)
    command = m.TransferCall(
        **envelope(call_id, operator, tenant), target_uri=body.target, mode=body.mode, brief=body.brief
    )
    return await send(svc, node, command, mode=body.mode)


@router.post("/{call_id}/mute", status_code=202, response_model=Accepted)
async def mute(call_id: CallId, svc: Svc, operator: Operator) -> Accepted:
    """Mute the AI agent: its current prompt stops and its next ones play as silence (the operator's
    own words, `say`, are still heard)."""
    node, tenant = await live_call(svc, call_id, operator, answered=True)
    return await send(svc, node, m.MuteAgent(**envelope(call_id, operator, tenant), muted=True))


@router.post("/{call_id}/unmute", status_code=202, response_model=Accepted)
async def unmute(call_id: CallId, svc: Svc, operator: Operator) -> Accepted:
    node, tenant = await live_call(svc, call_id, operator, answered=True)
    return await send(svc, node, m.MuteAgent(**envelope(call_id, operator, tenant), muted=False))
