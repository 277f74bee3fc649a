"""Ledger (台账) import and export over HTTP: validated whole, applied all or nothing, audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, UploadFile
from fastapi.responses import Response

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.api.routes.channel_routes import ChannelQuery
from vigil.registry.ledger_export import export_ledger
from vigil.registry.ledger_import import import_ledger

router = APIRouter(prefix=API_PREFIX, tags=["ledger"])
Importer = Annotated[Principal, Depends(require(Permission.LEDGER_IMPORT))]
Exporter = Annotated[Principal, Depends(require(Permission.LEDGER_EXPORT))]

_MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_READ_CHUNK_BYTES = 64 * 1024


async def _read_bounded(upload: UploadFile, max_bytes: int) -> bytes:
    # Content-Length may be absent (chunked uploads): count while reading.
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_READ_CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ApiError(413, "too_large", f"the ledger file exceeds {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/ledger/import")
async def import_ledger_file(
    file: UploadFile,
    request: Request,
    ctx: Ctx,
    principal: Importer,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Validate every row, then apply all rows or none; 422 lists each bad row and column."""
    data = await _read_bounded(file, ctx.max_upload_bytes)
    async with ctx.engine.begin() as conn:
        report = await import_ledger(
            conn, scope_of(principal), data, retention=ctx.retention, dry_run=dry_run
        )
        if report.applied:
            await record_audit(
                conn,
                ctx,
                request,
                principal.username,
                "ledger.import",
                file.filename or "",
                report.summary(),
            )
    if report.errors:
        shown = len(report.errors)
        more = f" (the first {shown} are listed)" if report.error_count > shown else ""
        raise ApiError(
            422,
            "ledger_invalid",
            f"{report.error_count} problems in {report.rows} rows; nothing was imported{more}",
            [{"row": e.row, "column": e.column, "reason": e.reason} for e in report.errors],
        )
    return report.summary()


@router.get("/ledger/export")
async def export_ledger_file(
    request: Request,
    ctx: Ctx,
    principal: Exporter,
    query: Annotated[ChannelQuery, Query()],
    format: Literal["csv", "xlsx"] = "xlsx",
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    """The points in the caller's scope matching the filters, as a ledger file."""
    async with ctx.engine.begin() as conn:
        data = await export_ledger(
            conn, scope_of(principal), query.to_filter(), fmt=format, lang=lang
        )
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "ledger.export",
            detail={"format": format, **query.model_dump(exclude_none=True)},
        )
    return Response(
        content=data,
        media_type=_MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="ledger.{format}"'},
    )
