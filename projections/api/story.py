"""A call's whole story for the dashboard's call page, each utterance's audio, and the golden button.

    GET  /api/calls/{id}/story               the call page's model (`projections.story`), read from the log
    GET  /api/calls/{id}/audio/{offset}.wav  the caller's utterance or the agent's speech at that offset
    POST /api/calls/{id}/golden              export the ended call as a golden call (admin scope)

Audio is read from the log like `/events`: the offset must lie in the call's own range of its
partition (the CDR's first and last offsets), and the record there must be this call's
`UtteranceCaptured` or `SpeechSynthesized` with audio; anything else is 404, so no offset ever
serves another call's record. The golden export writes `projections.golden`'s layout under the
server's golden directory (`SENTIRIC_GOLDEN_DIR`, default `$SENTIRIC_HOME/golden-calls`), which
`sentiric replay check DIR` re-runs.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Final

from aiokafka import TopicPartition
from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel

from projections import queries
from projections.api.calls import NOT_FOUND, CallId
from projections.api.errors import ApiError
from projections.api.models import ErrorBody
from projections.api.services import Services, services
from projections.api.tenancy import AdminScope, Scope, Tenancy
from projections.golden import GoldenError, export_call, wav_bytes
from projections.story import AUDIO_FACTS, story
from projections.timeline import call_timeline, read_record
from schemas import models as m

router = APIRouter(prefix="/api/calls", tags=["calls"])
Svc = Annotated[Services, Depends(services)]
LOG_READ_TIMEOUT_S: Final = 30.0
Offset = Annotated[int, Path(ge=0, le=2**63 - 1, description="the record's offset in the call's partition")]


class GoldenExport(BaseModel):
    call_id: str
    path: str
    facts: int
    utterances: int


async def _position(svc: Services, call_id: str, scope: Tenancy) -> Any:
    async with svc.pool.acquire() as conn:
        position = await queries.call_position(conn, call_id, scope.tenant)
    if position is None:
        raise ApiError(404, "call not found", {"call_id": call_id})
    return position


async def _from_log(what: str, step: Any) -> Any:
    try:
        return await asyncio.wait_for(step, LOG_READ_TIMEOUT_S)
    except TimeoutError:
        raise ApiError(503, f"the log did not answer reading {what}", None) from None


@router.get("/{call_id}/story", responses=NOT_FOUND)
async def call_story(call_id: CallId, svc: Svc, scope: Scope) -> dict[str, Any]:
    """The call's SIP ladder, turns (transcripts, decisions, links to each utterance's and reply's
    audio), the latency of each stage of each answer, media quality over time, and every record of
    its timeline (the objects `/events` returns), from one read of the log."""
    position = await _position(svc, call_id, scope)
    prefix = svc.config.topics.commands_prefix
    records = await _from_log(
        "the call", call_timeline(position, client=svc.config.client, commands_prefix=prefix)
    )
    return story(call_id, records)


@router.get(
    "/{call_id}/audio/{offset}.wav",
    response_class=Response,
    responses={**NOT_FOUND, 200: {"content": {"audio/wav": {}}, "description": "mono 16-bit PCM WAV"}},
)
async def call_audio(call_id: CallId, offset: Offset, svc: Svc, scope: Scope) -> Response:
    position = await _position(svc, call_id, scope)
    first, last = position["first_offset"], position["last_offset"]
    if position["log_topic"] is None or first is None or not first <= offset <= last:
        raise ApiError(404, "no audio of this call at that offset", {"offset": offset})
    tp = TopicPartition(position["log_topic"], position["log_partition"])
    found = await _from_log("the record", read_record(tp, offset, client=svc.config.client))
    record = found.record if found is not None else None
    if (
        record is None
        or not isinstance(record, AUDIO_FACTS)
        or record.call_id != call_id
        or not record.pcm
        or record.sample_rate <= 0
    ):
        raise ApiError(404, "no audio of this call at that offset", {"offset": offset})
    body = wav_bytes(record.pcm, record.sample_rate)
    # A record on the log never changes: the browser may keep it (private: it is a caller's voice).
    return Response(body, media_type="audio/wav", headers={"Cache-Control": "private, max-age=86400"})


@router.post(
    "/{call_id}/golden",
    response_model=GoldenExport,
    responses={
        **NOT_FOUND,
        409: {"model": ErrorBody, "description": "The call has not ended"},
        503: {"model": ErrorBody, "description": "No golden directory configured, or the log did not answer"},
    },
)
async def call_golden(call_id: CallId, svc: Svc, scope: AdminScope) -> dict[str, Any]:
    """Export the ended call (its facts and the caller's audio) as a golden call; returns its directory
    on the server. Exporting again rewrites the same files byte for byte."""
    position = await _position(svc, call_id, scope)
    if position["finished_at"] is None:
        raise ApiError(409, "the call has not ended", {"call_id": call_id})
    root = svc.config.golden_root
    if root is None:
        raise ApiError(503, "no golden directory is configured on this server")
    records = await _from_log(
        "the call", call_timeline(position, client=svc.config.client, commands_prefix=None)
    )
    facts = [d.record for d in records]
    try:
        async with svc.golden_lock:  # two clicks at once must not interleave one directory's files
            call_dir = await asyncio.to_thread(export_call, facts, root)
    except GoldenError as exc:
        raise ApiError(422, "the call cannot be exported", str(exc)) from None
    utterances = sum(1 for f in facts if isinstance(f, m.UtteranceCaptured) and f.pcm)
    return {"call_id": call_id, "path": str(call_dir), "facts": len(facts), "utterances": utterances}
