"""Platform alarms (storage full, ...): list and acknowledge. Acknowledgements are audited.

Storage alarms concern shared pools rather than one region's points, so every reader of
the ledger sees them; acknowledging is for the people on duty (operators, admins).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require
from vigil.api.errors import not_found
from vigil.api.routes import API_PREFIX
from vigil.api.routes.timeline_routes import iso
from vigil.recording import alarms

router = APIRouter(prefix=API_PREFIX, tags=["alarms"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
OnDuty = Annotated[Principal, Depends(require(Permission.DEVICES_MANAGE))]


class AlarmQuery(BaseModel):
    open: bool = False
    kind: str | None = Field(default=None, max_length=32)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=500)


def alarm_json(alarm: alarms.Alarm) -> dict[str, Any]:
    values = asdict(alarm)
    for key in ("at", "cleared_at", "acknowledged_at"):
        if values[key] is not None:
            values[key] = iso(values[key])
    values["open"] = alarm.open
    return values


@router.get("/alarms")
async def list_alarms(
    ctx: Ctx, principal: Reader, query: Annotated[AlarmQuery, Query()]
) -> dict[str, Any]:
    """Alarms newest first; ``open=true`` keeps those not yet cleared."""
    async with ctx.engine.connect() as conn:
        items, total = await alarms.list_alarms(
            conn, open_only=query.open, kind=query.kind, offset=query.offset, limit=query.limit
        )
    return {
        "items": [alarm_json(a) for a in items],
        "total": total,
        "offset": query.offset,
        "limit": query.limit,
    }


@router.post("/alarms/{alarm_id}/ack")
async def acknowledge_alarm(
    alarm_id: int, request: Request, ctx: Ctx, principal: OnDuty
) -> dict[str, Any]:
    async with ctx.engine.begin() as conn:
        alarm = await alarms.acknowledge_alarm(conn, alarm_id, principal.username)
        if alarm is None:
            raise not_found(f"alarm {alarm_id}")
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "alarm.ack",
            str(alarm_id),
            {"kind": alarm.kind, "source": alarm.source},
        )
    return alarm_json(alarm)
