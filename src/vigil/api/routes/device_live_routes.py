"""Live device state from the signalling server, on-demand queries, and the signalling log.

Every route first reads the device through the registry with the caller's scope, so a
device outside the scope is "not found" here exactly as in the ledger.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.registry import devices
from vigil.signaling.server import SignalingServer

router = APIRouter(prefix=API_PREFIX, tags=["devices"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
Manager = Annotated[Principal, Depends(require(Permission.DEVICES_MANAGE))]


async def _signaling_for(ctx: ApiContext, principal: Principal, device_id: str) -> SignalingServer:
    async with ctx.engine.connect() as conn:
        await devices.get_device(conn, scope_of(principal), device_id)  # scope check
    if ctx.signaling is None:
        raise ApiError(503, "unavailable", "GB/T 28181 signalling is not running")
    return ctx.signaling


@router.get("/devices/{device_id}/state")
async def device_state(device_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """Registration and keepalive state as the signalling server holds it now."""
    signaling = await _signaling_for(ctx, principal, device_id)
    state = signaling.device_state(device_id)
    if state is None:
        raise ApiError(404, "not_found", f"{device_id} has not registered since the start")
    return asdict(state)


@router.post("/devices/{device_id}/catalog")
async def refresh_catalog(
    device_id: str, request: Request, ctx: Ctx, principal: Manager
) -> dict[str, Any]:
    """Query the device's catalog now and merge it into the ledger."""
    signaling = await _signaling_for(ctx, principal, device_id)
    report = await signaling.refresh_catalog(device_id)
    summary = {
        "complete": report.complete,
        "added": list(report.added),
        "changed": list(report.changed),
        "removed": list(report.removed),
        "unchanged": report.unchanged,
        "unplaced": list(report.unplaced),
    }
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "device.catalog_refresh", device_id,
            {key: len(value) if isinstance(value, list) else value
             for key, value in summary.items()},
        )  # fmt: skip
    return {**summary, "items": len(report.added) + len(report.changed) + report.unchanged}


@router.post("/devices/{device_id}/info")
async def query_info(device_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """DeviceInfo query (GB/T 28181-2016 §9.5): name, manufacturer, model, firmware."""
    signaling = await _signaling_for(ctx, principal, device_id)
    answer = await signaling.query_device_info(device_id)
    return {
        "device_name": answer.device_name,
        "manufacturer": answer.manufacturer,
        "model": answer.model,
        "firmware": answer.firmware,
        "channel_count": answer.channel,
        "result": answer.result,
    }


@router.post("/devices/{device_id}/status")
async def query_status(device_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """DeviceStatus query (§9.5): online, working status, encoding, recording, clock."""
    signaling = await _signaling_for(ctx, principal, device_id)
    answer = await signaling.query_device_status(device_id)
    return {
        "online": answer.online,
        "status": answer.status,
        "encode": answer.encode,
        "record": answer.record,
        "device_time": answer.device_time,
        "result": answer.result,
        "reason": answer.reason,
    }


@router.get("/devices/{device_id}/signalling-log")
async def signalling_log(device_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    """The last SIP messages exchanged with the device, readable, for troubleshooting."""
    signaling = await _signaling_for(ctx, principal, device_id)
    return {
        "items": [
            {
                "at": record.at,
                "direction": record.direction,
                "peer": record.peer,
                "transport": record.transport,
                "first_line": record.first_line,
                "text": record.text,
            }
            for record in signaling.signalling_log(device_id)
        ]
    }
