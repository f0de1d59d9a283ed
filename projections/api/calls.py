"""`/api/calls`: the CDR list with filters and cursor paging, one call in full, its timeline from the
log, and its recording."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path as FsPath
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlparse

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import FileResponse, RedirectResponse

from projections import queries
from projections.api.errors import ApiError
from projections.api.models import CallDetail, CallPage, ErrorBody
from projections.api.services import Services, services
from projections.api.tenancy import Scope
from projections.cdr import DISPOSITIONS
from projections.timeline import call_timeline, timeline_json

router = APIRouter(prefix="/api/calls", tags=["calls"])
NO_NUL = r"^[^\x00]*$"
CallId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)]
Party = Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)]
Disposition = Literal[DISPOSITIONS]  # type: ignore[valid-type]  # a Literal built from the tuple at import
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody, "description": "No such call"}}


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@router.get("", response_model=CallPage, responses={422: {"model": ErrorBody}})
async def list_calls(
    svc: Annotated[Services, Depends(services)],
    scope: Scope,
    start: Annotated[datetime | None, Query(alias="from", description="INVITE at or after")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="INVITE before")] = None,
    caller: Party = None,
    callee: Party = None,
    disposition: Annotated[Disposition | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512, pattern=NO_NUL)] = None,
) -> dict[str, Any]:
    where = queries.CallFilter(utc(start), utc(end), caller, callee, disposition, scope.tenant)
    try:
        async with svc.pool.acquire() as conn:
            items, next_cursor = await queries.list_calls(conn, where, limit=limit, cursor=cursor)
    except queries.CursorError as exc:
        raise ApiError(422, "invalid cursor", str(exc)) from None
    return {"items": items, "next_cursor": next_cursor}


@router.get("/{call_id}", response_model=CallDetail, responses=NOT_FOUND)
async def get_call(
    call_id: CallId, svc: Annotated[Services, Depends(services)], scope: Scope
) -> dict[str, Any]:
    async with svc.pool.acquire() as conn:
        call = await queries.get_call(conn, call_id, scope.tenant)
    if call is None:
        raise ApiError(404, "call not found", {"call_id": call_id})
    return call


@router.get("/{call_id}/events", response_model=list[dict[str, Any]], responses=NOT_FOUND)
async def call_events(
    call_id: CallId,
    svc: Annotated[Services, Depends(services)],
    scope: Scope,
    commands: Annotated[bool, Query(description="include the commands sent to the edge")] = True,
    audio: Annotated[bool, Query(description="include PCM as base64")] = False,
) -> list[dict[str, Any]]:
    """The call's decoded timeline read from the log at the stored partition and offsets — the same
    objects `sentiric replay call --json` prints."""
    async with svc.pool.acquire() as conn:
        position = await queries.call_position(conn, call_id, scope.tenant)
    if position is None:
        raise ApiError(404, "call not found", {"call_id": call_id})
    prefix = svc.config.topics.commands_prefix if commands else None
    records = await call_timeline(position, client=svc.config.client, commands_prefix=prefix)
    return [timeline_json(d, include_audio=audio) for d in records]


@router.get(
    "/{call_id}/recording",
    response_class=FileResponse,
    responses={**NOT_FOUND, 307: {"description": "Redirect to the object store"}},
)
async def call_recording(call_id: CallId, svc: Annotated[Services, Depends(services)], scope: Scope) -> Any:
    """file:// recordings under the recordings root are served; s3:// and http(s):// ones are
    redirected to (s3 as the bucket's virtual-hosted HTTPS URL; signing is the store's business)."""
    async with svc.pool.acquire() as conn:
        exists, uri = await queries.recording_uri(conn, call_id, scope.tenant)
    if not exists:
        raise ApiError(404, "call not found", {"call_id": call_id})
    if uri is None:
        raise ApiError(404, "call has no recording", {"call_id": call_id})
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = await asyncio.to_thread(_under_root, FsPath(unquote(parsed.path)), svc.config.recordings_root)
        if path is None:  # a URI from the log is wire data: never serve a file outside the root
            raise ApiError(404, "recording is outside the recordings root", {"uri": uri})
        if not await asyncio.to_thread(path.is_file):
            raise ApiError(404, "recording file not found", {"uri": uri})
        media = "audio/wav" if path.suffix == ".wav" else "audio/mpeg" if path.suffix == ".mp3" else None
        return FileResponse(path, media_type=media, filename=path.name)
    if parsed.scheme == "s3":
        return RedirectResponse(f"https://{parsed.netloc}.s3.amazonaws.com{parsed.path}", status_code=307)
    if parsed.scheme in ("http", "https"):
        return RedirectResponse(uri, status_code=307)
    raise ApiError(404, "recording URI scheme not served", {"uri": uri})


def _under_root(path: FsPath, root: FsPath | None) -> FsPath | None:
    """``path`` with symlinks and ``..`` resolved, if that is inside ``root``; else None."""
    if root is None:
        return None
    resolved, base = path.resolve(), root.resolve()
    return resolved if resolved != base and resolved.is_relative_to(base) else None
