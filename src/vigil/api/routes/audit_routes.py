"""Read and verify the audit chain (auditors and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from vigil.access import audit
from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require
from vigil.api.routes import API_PREFIX

router = APIRouter(prefix=API_PREFIX, tags=["audit"])
Auditor = Annotated[Principal, Depends(require(Permission.AUDIT_READ))]


@router.get("/audit")
async def list_audit(
    ctx: Ctx,
    _: Auditor,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        items, total = await audit.list_audit(
            conn,
            actor=actor,
            action=action,
            target=target,
            since=since,
            until=until,
            offset=offset,
            limit=limit,
        )
    return {
        "items": [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "source_ip": r.source_ip,
                "action": r.action,
                "target": r.target,
                "outcome": r.outcome,
                "detail": r.detail,
            }
            for r in items
        ],
        "total": total,
        "offset": offset,
        "limit": limit,
    }


@router.get("/audit/verify")
async def verify_audit(request: Request, ctx: Ctx, principal: Auditor) -> dict[str, Any]:
    """Walk the whole chain and report every edited, inserted or deleted record."""
    async with ctx.engine.connect() as conn:
        report = await audit.verify(conn, ctx.audit_key)
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "audit.verify",
            detail={"ok": report.ok, "checked": report.checked},
        )
    return {
        "ok": report.ok,
        "checked": report.checked,
        "problems": [{"id": p.id, "kind": p.kind, "message": p.message} for p in report.problems],
    }
