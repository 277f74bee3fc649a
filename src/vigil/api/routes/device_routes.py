"""Devices (IPCs, NVRs, lower platforms, RTSP cameras). Changes audited; passwords never shown."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.routes import API_PREFIX, page_json
from vigil.registry import devices

router = APIRouter(prefix=API_PREFIX, tags=["devices"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
Manager = Annotated[Principal, Depends(require(Permission.DEVICES_MANAGE))]


class DeviceEdit(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    kind: str | None = None
    status: str | None = None
    region_code: str | None = Field(default=None, max_length=8)
    org_id: int | None = None
    manufacturer: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    firmware: str | None = Field(default=None, max_length=100)
    sip_password: str | None = Field(default=None, max_length=128)
    rtsp_url: str | None = Field(default=None, max_length=500)


class DeviceCreate(DeviceEdit):
    id: str = Field(min_length=1, max_length=20)


class DeviceQuery(BaseModel):
    region: str | None = Field(default=None, max_length=8)
    org: int | None = None
    kind: str | None = None
    status: str | None = None
    online: bool | None = None
    q: str | None = Field(default=None, max_length=100)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=500)


def _redacted(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k == "sip_password" else v) for k, v in values.items()}


@router.get("/devices")
async def list_devices(
    ctx: Ctx, principal: Reader, query: Annotated[DeviceQuery, Query()]
) -> dict[str, Any]:
    flt = devices.DeviceFilter(
        region=query.region,
        org_id=query.org,
        kind=query.kind,
        status=query.status,
        online=query.online,
        text=query.q,
    )
    async with ctx.engine.connect() as conn:
        page = await devices.list_devices(
            conn, scope_of(principal), flt, offset=query.offset, limit=query.limit
        )
    return page_json(page)


@router.get("/devices/{device_id}")
async def get_device(device_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        return asdict(await devices.get_device(conn, scope_of(principal), device_id))


@router.post("/devices", status_code=201)
async def create_device(
    body: DeviceCreate, request: Request, ctx: Ctx, principal: Manager
) -> dict[str, Any]:
    values = body.model_dump(exclude_none=True, exclude={"id"})
    async with ctx.engine.begin() as conn:
        item = await devices.create_device(
            conn, scope_of(principal), body.id, devices.DeviceFields(**values)
        )
        await record_audit(
            conn, ctx, request, principal.username, "device.create", item.id, _redacted(values)
        )
    return asdict(item)


@router.patch("/devices/{device_id}")
async def update_device(
    device_id: str, body: DeviceEdit, request: Request, ctx: Ctx, principal: Manager
) -> dict[str, Any]:
    changes = body.model_dump(exclude_unset=True)
    async with ctx.engine.begin() as conn:
        item = await devices.update_device(conn, scope_of(principal), device_id, changes)
        await record_audit(
            conn, ctx, request, principal.username, "device.update", device_id, _redacted(changes)
        )
    if ctx.signaling is not None:  # a new password or status applies to the next request
        await ctx.signaling.reload_device(device_id)
    return asdict(item)


@router.delete("/devices/{device_id}", status_code=204)
async def delete_device(device_id: str, request: Request, ctx: Ctx, principal: Manager) -> Response:
    async with ctx.engine.begin() as conn:
        await devices.delete_device(conn, scope_of(principal), device_id)
        await record_audit(conn, ctx, request, principal.username, "device.delete", device_id)
    if ctx.signaling is not None:
        await ctx.signaling.reload_device(device_id)
    return Response(status_code=204)
