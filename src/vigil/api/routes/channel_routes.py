"""Collection points (channels): filtered pages, detail, create, edit, delete. Edits audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.routes import API_PREFIX, page_json
from vigil.registry import channels
from vigil.registry.labels import point_labels

router = APIRouter(prefix=API_PREFIX, tags=["channels"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]
Writer = Annotated[Principal, Depends(require(Permission.REGISTRY_WRITE))]

Network = Literal["police_video", "social_video", "internet", "wireless"]


class ChannelQuery(BaseModel):
    region: str | None = Field(default=None, max_length=8)
    org: int | None = None
    point_class: int | None = None
    network: Network | None = None
    online: bool | None = None
    device: str | None = Field(default=None, max_length=20)
    q: str | None = Field(default=None, max_length=100)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=500)

    def to_filter(self) -> channels.ChannelFilter:
        return channels.ChannelFilter(
            region=self.region,
            org_id=self.org,
            point_class=self.point_class,
            network=self.network,
            online=self.online,
            device_id=self.device,
            text=self.q,
        )


class ChannelEdit(BaseModel):
    """Fields an operator may change; omitted fields stay as they are. Ranges are checked
    by the registry, which names every invalid field in one answer."""

    name: str | None = None
    device_id: str | None = None
    region_code: str | None = None
    org_id: int | None = None
    point_class: int | None = None
    network: str | None = None
    resolution: str | None = None
    hd: bool | None = None
    retention_override: int | None = None
    ptz_type: int | None = None
    longitude: float | None = None
    latitude: float | None = None
    address: str | None = None
    civil_code: str | None = None
    secrecy: bool | None = None
    manufacturer: str | None = None
    model: str | None = None


class ChannelCreate(ChannelEdit):
    id: str = Field(min_length=1, max_length=32)
    name: str
    region_code: str


async def channels_json(
    conn: AsyncConnection, items: Sequence[channels.Channel]
) -> list[dict[str, Any]]:
    region_names, org_names = await point_labels(
        conn, (c.region_code for c in items), (c.org_id for c in items)
    )
    return [
        {
            **asdict(item),
            "region_name": region_names.get(item.region_code, ""),
            "org_name": org_names.get(item.org_id, "") if item.org_id is not None else "",
        }
        for item in items
    ]


@router.get("/channels")
async def list_channels(
    ctx: Ctx, principal: Reader, query: Annotated[ChannelQuery, Query()]
) -> dict[str, Any]:
    """A page of the collection points in the caller's scope that match the filters."""
    async with ctx.engine.connect() as conn:
        page = await channels.list_channels(
            conn,
            scope_of(principal),
            query.to_filter(),
            retention=ctx.retention,
            offset=query.offset,
            limit=query.limit,
        )
        items = await channels_json(conn, page.items)
    return page_json(page, items)


@router.get("/channels/{channel_id}")
async def get_channel(channel_id: str, ctx: Ctx, principal: Reader) -> dict[str, Any]:
    async with ctx.engine.connect() as conn:
        item = await channels.get_channel(
            conn, scope_of(principal), channel_id, retention=ctx.retention
        )
        return (await channels_json(conn, [item]))[0]


@router.post("/channels", status_code=201)
async def create_channel(
    body: ChannelCreate, request: Request, ctx: Ctx, principal: Writer
) -> dict[str, Any]:
    values = body.model_dump(exclude_none=True, exclude={"id"})
    async with ctx.engine.begin() as conn:
        item = await channels.create_channel(
            conn,
            scope_of(principal),
            body.id,
            channels.ChannelFields(**values),
            retention=ctx.retention,
        )
        await record_audit(
            conn, ctx, request, principal.username, "channel.create", item.id, values
        )
        return (await channels_json(conn, [item]))[0]


@router.patch("/channels/{channel_id}")
async def update_channel(
    channel_id: str, body: ChannelEdit, request: Request, ctx: Ctx, principal: Writer
) -> dict[str, Any]:
    """Change some fields of a point; the registry refuses moves outside the caller's scope."""
    changes = body.model_dump(exclude_unset=True)
    async with ctx.engine.begin() as conn:
        item = await channels.update_channel(
            conn, scope_of(principal), channel_id, changes, retention=ctx.retention
        )
        await record_audit(
            conn, ctx, request, principal.username, "channel.update", channel_id, changes
        )
        return (await channels_json(conn, [item]))[0]


@router.delete("/channels/{channel_id}", status_code=204)
async def delete_channel(
    channel_id: str, request: Request, ctx: Ctx, principal: Writer
) -> Response:
    async with ctx.engine.begin() as conn:
        await channels.delete_channel(conn, scope_of(principal), channel_id)
        await record_audit(conn, ctx, request, principal.username, "channel.delete", channel_id)
    return Response(status_code=204)
