"""Exports of recorded footage: jobs, downloads, the signing key and verification.

Who may do what (roles in ``access.roles``):

* **Create** an export: ``export.create`` (admins by role; operators and viewers watch but
  do not take evidence away) on a channel in the caller's scope. Audited as
  ``recording.export``.
* **See jobs**: their own with ``export.create``; every job with ``audit.read`` (admins,
  auditors). Jobs of others answer "not found".
* **Download the MP4**: ``export.create``, the job is the caller's own or the caller also
  holds ``audit.read`` (an admin), and the channel is still in scope. Auditors see the
  manifest, never the video. Every download is audited as ``recording.export_download``.
* **Verify**: anyone signed in may check an uploaded manifest (and the MP4's SHA-256) or a
  job they may see; the public key is served to anyone signed in.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, CurrentPrincipal, record_audit, require, scope_of
from vigil.api.errors import ApiError, not_found
from vigil.api.routes import API_PREFIX
from vigil.api.routes.timeline_routes import as_utc, iso
from vigil.recording import export_jobs
from vigil.recording.errors import ExportError, RecordingInputError
from vigil.recording.export_jobs import ExportJob
from vigil.recording.export_service import MAX_REASON_CHARS, ExportService
from vigil.registry import channels

router = APIRouter(prefix=API_PREFIX, tags=["exports"])
Exporter = Annotated[Principal, Depends(require(Permission.EXPORT_CREATE))]
_JOB_ID = re.compile(r"[0-9a-f]{32}")


class ExportCreate(BaseModel):
    start: datetime
    end: datetime
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


class VerifyRequest(BaseModel):
    """A job to re-check on disk, or an uploaded manifest document (with the MP4's hash)."""

    job_id: str | None = None
    manifest: dict[str, Any] | None = None
    mp4_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    mp4_size_bytes: int | None = Field(default=None, ge=0)


def _service(ctx: ApiContext) -> ExportService:
    if ctx.exports is None:
        raise ApiError(503, "unavailable", "exports are not running")
    return ctx.exports


def job_json(job: ExportJob) -> dict[str, Any]:
    values = job.as_json()
    for key in ("start", "end", "created_at", "finished_at"):
        value = values[key]
        if isinstance(value, datetime):
            values[key] = iso(value)
    base = f"{API_PREFIX}/exports/{job.id}"
    values["file_url"] = f"{base}/file" if job.state == export_jobs.DONE else None
    signed = job.state in (export_jobs.DONE, export_jobs.EXPIRED)
    values["manifest_url"] = f"{base}/manifest" if signed else None
    return values


async def _visible_job(ctx: ApiContext, principal: Principal, job_id: str) -> ExportJob:
    """The job if the caller may see it (their own, or any with audit.read)."""
    if not _JOB_ID.fullmatch(job_id):
        raise not_found("export")
    job = await export_jobs.get_job(ctx.engine, job_id)
    if job is None:
        raise not_found("export")
    own = job.requested_by == principal.username and principal.has(Permission.EXPORT_CREATE)
    if not own and not principal.has(Permission.AUDIT_READ):
        raise not_found("export")
    return job


def _done(job: ExportJob, *, manifest: bool = False) -> None:
    if job.state == export_jobs.EXPIRED and not manifest:
        raise ApiError(410, "gone", "the export file was removed after its keeping period")
    if job.state not in (export_jobs.DONE, export_jobs.EXPIRED):
        raise ApiError(409, "not_ready", f"the export is {job.state}")


@router.post("/channels/{channel_id}/exports", status_code=202)
async def create_export(
    channel_id: str, body: ExportCreate, request: Request, ctx: Ctx, principal: Exporter
) -> dict[str, Any]:
    """Queue an MP4 export of [start, end) with a signed manifest; poll the job."""
    service = _service(ctx)
    async with ctx.engine.connect() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)
    try:
        job = await service.submit(
            channel_id,
            as_utc(body.start),
            as_utc(body.end),
            requested_by=principal.username,
            reason=body.reason,
        )
    except RecordingInputError as exc:
        raise ApiError(422, "invalid_range", str(exc)) from None
    except ExportError as exc:
        raise ApiError(422, "no_recording", str(exc)) from None
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "recording.export", channel_id,
            {"job": job.id, "start": iso(job.start_at), "end": iso(job.end_at),
             "reason": job.reason},
        )  # fmt: skip
    return job_json(job)


@router.get("/exports")
async def list_exports(
    ctx: Ctx,
    principal: CurrentPrincipal,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The caller's export jobs, newest first (every job for auditors and admins)."""
    if principal.has(Permission.AUDIT_READ):
        owner = None
    elif principal.has(Permission.EXPORT_CREATE):
        owner = principal.username
    else:
        raise ApiError(403, "forbidden", f"the {principal.role} role lacks export.create")
    jobs, total = await export_jobs.list_jobs(
        ctx.engine, requested_by=owner, limit=limit, offset=offset
    )
    return {"items": [job_json(j) for j in jobs], "total": total, "offset": offset, "limit": limit}


@router.get("/exports/public-key")
async def public_key(ctx: Ctx, _: CurrentPrincipal) -> Response:
    """The platform's Ed25519 public key (PEM) that verifies every export manifest."""
    service = _service(ctx)
    return Response(
        service.public_key_pem,
        media_type="application/x-pem-file",
        headers={"X-Key-Fingerprint": service.key_fingerprint},
    )


@router.post("/exports/verify")
async def verify_export(
    body: VerifyRequest, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> dict[str, Any]:
    """Verify a job's files on disk, or an uploaded manifest (and the MP4's SHA-256)."""
    service = _service(ctx)
    if (body.job_id is None) == (body.manifest is None):
        raise ApiError(422, "validation_failed", "give either job_id or manifest")
    if body.job_id is not None:
        job = await _visible_job(ctx, principal, body.job_id)
        _done(job)
        verdict = await service.verify_job(job)
        target = job.id
    else:
        assert body.manifest is not None
        verdict = service.verify_uploaded(
            body.manifest, file_sha256_hex=body.mp4_sha256, file_size_bytes=body.mp4_size_bytes
        )
        target = str(verdict.manifest.get("job_id", "")) if verdict.manifest else ""
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "recording.export_verify", target[:200],
            {"valid": verdict.valid, "file_checked": verdict.file_checked},
        )  # fmt: skip
    return verdict.as_json()


@router.get("/exports/{job_id}")
async def get_export(job_id: str, ctx: Ctx, principal: CurrentPrincipal) -> dict[str, Any]:
    return job_json(await _visible_job(ctx, principal, job_id))


@router.get("/exports/{job_id}/file")
async def download_file(
    job_id: str, request: Request, ctx: Ctx, principal: Exporter
) -> FileResponse:
    """The exported MP4 (scope-checked and audited)."""
    service = _service(ctx)
    job = await _visible_job(ctx, principal, job_id)
    if not principal.scope_all:  # the channel must still be in the caller's scope
        async with ctx.engine.connect() as conn:
            await channels.get_channel(
                conn, scope_of(principal), job.channel_id, retention=ctx.retention
            )
    _done(job)
    return await _audited_download(
        ctx, request, principal, job, service.mp4_path(job.id), "video/mp4",
        missing="the export file is no longer on disk",
        detail={"job": job.id, "file": "mp4", "size_bytes": job.size_bytes},
    )  # fmt: skip


@router.get("/exports/{job_id}/manifest")
async def download_manifest(
    job_id: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> FileResponse:
    """The signed manifest (JSON) of a finished export (audited)."""
    service = _service(ctx)
    job = await _visible_job(ctx, principal, job_id)
    _done(job, manifest=True)
    return await _audited_download(
        ctx, request, principal, job, service.manifest_path(job.id), "application/json",
        missing="the manifest is no longer on disk",
        detail={"job": job.id, "file": "manifest"},
    )  # fmt: skip


async def _audited_download(
    ctx: ApiContext,
    request: Request,
    principal: Principal,
    job: ExportJob,
    path: Path,
    media_type: str,
    *,
    missing: str,
    detail: dict[str, Any],
) -> FileResponse:
    """A file of a finished export, audited as ``recording.export_download``; 410 if gone."""
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(410, "gone", missing)
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "recording.export_download", job.channel_id,
            detail,
        )  # fmt: skip
    return FileResponse(path, media_type=media_type, filename=path.name)
