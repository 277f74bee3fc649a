"""Downloads of a device's recordings into MP4 files on the platform (GB/T 28181-2016 §9.9).

``POST /channels/{id}/device-downloads`` queues a job (202) that INVITEs the channel's
device with ``s=Download`` at ``speed`` × real time (``a=downloadspeed``, 1-8) and writes
what it sends into one MP4; poll ``GET /device-downloads/{job}`` for ``state`` and
``progress`` (media seconds received / window), then fetch ``…/file`` (HTTP Range allowed).
``start``/``end`` are written as for the device's record list: ISO 8601 (without a zone:
the platform's local time, the devices' clock) or Unix seconds.

Who may do what: ``playback.view`` (as for watching the recording on the device) on a
channel in the caller's scope; outside it every answer is "not found". Callers see their
own jobs; holders of ``audit.read`` (admins) see every job in their scope. Creating and
fetching are audited (``device_download.create``, ``device_download.fetch``), and so is
removing a job with its file (``device_download.delete``).
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError, not_found
from vigil.api.routes import API_PREFIX
from vigil.api.routes.device_record_routes import channel_on_device, parse_instant
from vigil.api.routes.timeline_routes import iso
from vigil.device_downloads import DeviceDownloads, DownloadJob
from vigil.device_downloads import jobs as download_jobs
from vigil.device_downloads.service import DEFAULT_SPEED, MAX_SPEED, MIN_SPEED
from vigil.registry import channels
from vigil.registry.errors import NotFoundError

router = APIRouter(prefix=API_PREFIX, tags=["playback"])
PlaybackViewer = Annotated[Principal, Depends(require(Permission.PLAYBACK_VIEW))]
_JOB_ID = re.compile(r"[0-9a-f]{32}")


class DownloadCreate(BaseModel):
    start: str | int
    end: str | int
    speed: int = Field(default=DEFAULT_SPEED, ge=MIN_SPEED, le=MAX_SPEED)


def _service(ctx: ApiContext) -> DeviceDownloads:
    if ctx.device_downloads is None:
        raise ApiError(503, "unavailable", "device downloads are not running")
    return ctx.device_downloads


def _invalid(field: str, reason: str) -> ApiError:
    return ApiError(
        422, "validation_failed", f"{field}: {reason}", [{"field": field, "reason": reason}]
    )


def _instant(value: str | int, field: str) -> datetime:
    try:
        local = parse_instant(str(value), field)
    except ApiError:
        raise _invalid(field, "not a date-time or Unix seconds") from None
    return local.astimezone()  # local wall time → an aware instant


def _window(body: DownloadCreate, max_window_s: int) -> tuple[datetime, datetime]:
    start, end = _instant(body.start, "start"), _instant(body.end, "end")
    span_s = (end - start).total_seconds()
    if span_s <= 0:
        raise _invalid("end", "must follow start")
    if span_s > max_window_s:
        raise _invalid("end", f"a download covers at most {max_window_s} s; split the window")
    return start, end


def job_json(job: DownloadJob) -> dict[str, Any]:
    start_s, end_s = job.window_s
    done = job.state == download_jobs.DONE
    return {
        "id": job.id,
        "channel_id": job.channel_id,
        "device_id": job.device_id,
        "requested_by": job.requested_by,
        "start": iso(job.start_at),
        "end": iso(job.end_at),
        "start_s": start_s,
        "end_s": end_s,
        "speed": job.speed,
        "state": job.state,
        "progress": job.progress,
        "size_bytes": job.size_bytes,
        "frames": job.frames,
        "sha256": job.sha256,
        "error": job.error,
        "created_at": iso(job.created_at),
        "finished_at": iso(job.finished_at) if job.finished_at else None,
        "file_url": f"{API_PREFIX}/device-downloads/{job.id}/file" if done else None,
    }


async def _visible_job(ctx: ApiContext, principal: Principal, job_id: str) -> DownloadJob:
    """The job if the caller may see it: their own or any (audit.read), channel in scope."""
    if not _JOB_ID.fullmatch(job_id):
        raise not_found("device download")
    job = await download_jobs.get_job(ctx.engine, job_id)
    if job is None:
        raise not_found("device download")
    if job.requested_by != principal.username and not principal.has(Permission.AUDIT_READ):
        raise not_found("device download")
    if not principal.scope_all:
        try:
            async with ctx.engine.connect() as conn:
                await channels.get_channel(
                    conn, scope_of(principal), job.channel_id, retention=ctx.retention
                )
        except NotFoundError:
            raise not_found("device download") from None
    return job


@router.post("/channels/{channel_id}/device-downloads", status_code=202)
async def create_download(
    channel_id: str, body: DownloadCreate, request: Request, ctx: Ctx, principal: PlaybackViewer
) -> dict[str, Any]:
    """Queue a download of the device's recording of [start, end] into one MP4."""
    service = _service(ctx)
    channel, device_id = await channel_on_device(ctx, principal, channel_id)
    start, end = _window(body, service.max_window_s)
    job = await service.submit(
        channel.id, device_id, start, end, speed=body.speed, requested_by=principal.username
    )
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "device_download.create", channel.id,
            {"job": job.id, "device_id": device_id, "start": iso(job.start_at),
             "end": iso(job.end_at), "speed": job.speed},
        )  # fmt: skip
    return job_json(job)


@router.get("/device-downloads")
async def list_downloads(
    ctx: Ctx,
    principal: PlaybackViewer,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The caller's downloads, newest first (every download in scope for admins)."""
    owner = None if principal.has(Permission.AUDIT_READ) else principal.username
    found, total = await download_jobs.list_jobs(
        ctx.engine, scope_of(principal), requested_by=owner, limit=limit, offset=offset
    )
    return {"items": [job_json(j) for j in found], "total": total, "offset": offset, "limit": limit}


@router.get("/device-downloads/{job_id}")
async def get_download(job_id: str, ctx: Ctx, principal: PlaybackViewer) -> dict[str, Any]:
    return job_json(await _visible_job(ctx, principal, job_id))


@router.get("/device-downloads/{job_id}/file")
async def download_file(
    job_id: str, request: Request, ctx: Ctx, principal: PlaybackViewer
) -> FileResponse:
    """The MP4 of a finished download (audited; byte ranges allowed)."""
    service = _service(ctx)
    job = await _visible_job(ctx, principal, job_id)
    if job.state != download_jobs.DONE:
        raise ApiError(409, "not_ready", f"the download is {job.state}")
    path = service.mp4_path(job.id)
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(410, "gone", "the downloaded file is no longer on disk")
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "device_download.fetch", job.channel_id,
            {"job": job.id, "size_bytes": job.size_bytes,
             "range": request.headers.get("range", "")[:100]},
        )  # fmt: skip
    start_s, end_s = job.window_s
    name = f"{job.channel_id}-{start_s}-{end_s}.mp4"
    return FileResponse(path, media_type="video/mp4", filename=name)


@router.delete("/device-downloads/{job_id}", status_code=204)
async def delete_download(
    job_id: str, request: Request, ctx: Ctx, principal: PlaybackViewer
) -> Response:
    """Remove a download that is not running, with its file."""
    service = _service(ctx)
    job = await _visible_job(ctx, principal, job_id)
    if not await service.remove(job):
        raise ApiError(409, "running", "the download is running; remove it once it has ended")
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "device_download.delete", job.channel_id,
            {"job": job.id, "state": job.state},
        )  # fmt: skip
    return Response(status_code=204)
