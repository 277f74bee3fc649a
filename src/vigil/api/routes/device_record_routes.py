"""Recordings kept on a channel's device (GB/T 28181-2016 §9.7): the RecordInfo list.

The channel is read through the registry with the caller's scope first (outside it: 404),
then its device is asked; every query is audited. ``start`` and ``end`` are ISO 8601
date-times (without a zone: the platform's local time, which is what devices use) or Unix
seconds. An answer the device did not finish is returned with ``complete`` false.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.registry import channels
from vigil.registry.channels import Channel
from vigil.signaling.server import SignalingServer

router = APIRouter(prefix=API_PREFIX, tags=["playback"])
PlaybackViewer = Annotated[Principal, Depends(require(Permission.PLAYBACK_VIEW))]

MAX_WINDOW_S = 31 * 86_400
RECORD_TYPES = ("all", "time", "alarm", "manual")


def parse_instant(text: str, name: str) -> datetime:
    """ISO 8601 (an aware one is converted to local time) or Unix seconds → local naive."""
    text = text.strip()
    try:
        if text.isdigit():
            return datetime.fromtimestamp(int(text))
        value = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise ApiError(422, "invalid", f"{name}: not a date-time or Unix seconds") from None
    return value.astimezone().replace(tzinfo=None) if value.tzinfo else value


def parse_window(start: str, end: str) -> tuple[datetime, datetime]:
    begin, finish = parse_instant(start, "start"), parse_instant(end, "end")
    span_s = (finish - begin).total_seconds()
    if not 0 < span_s <= MAX_WINDOW_S:
        raise ApiError(422, "invalid", "end must follow start by at most 31 days")
    return begin, finish


async def channel_on_device(
    ctx: ApiContext, principal: Principal, channel_id: str
) -> tuple[Channel, str]:
    """The channel (scope-checked: 404 outside) and its device ID (409 without one)."""
    async with ctx.engine.connect() as conn:
        channel = await channels.get_channel(
            conn, scope_of(principal), channel_id, retention=ctx.retention
        )
    if channel.device_id is None:
        raise ApiError(409, "no_device", f"{channel.id} is not attached to a device")
    return channel, channel.device_id


def _signaling(ctx: ApiContext) -> SignalingServer:
    if ctx.signaling is None:
        raise ApiError(503, "unavailable", "GB/T 28181 signalling is not running")
    return ctx.signaling


@router.get("/channels/{channel_id}/device-records")
async def device_records(
    channel_id: str,
    start: str,
    end: str,
    request: Request,
    ctx: Ctx,
    principal: PlaybackViewer,
    type: str = "all",
) -> dict[str, Any]:
    """What the channel's device has recorded in the window (RecordInfo, reassembled)."""
    if type not in RECORD_TYPES:
        raise ApiError(422, "invalid", f"type must be one of {', '.join(RECORD_TYPES)}")
    begin, finish = parse_window(start, end)
    channel, device_id = await channel_on_device(ctx, principal, channel_id)
    result = await _signaling(ctx).query_record_info(device_id, channel.id, begin, finish, type)
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "device_records.query", channel.id,
            {"device_id": device_id, "start": begin.isoformat(), "end": finish.isoformat(),
             "items": len(result.items), "complete": result.complete},
        )  # fmt: skip
    return {
        "channel_id": channel.id,
        "device_id": device_id,
        "sum_num": result.sum_num,
        "complete": result.complete,
        "items": [
            {
                "start": item.start_time.isoformat() if item.start_time else None,
                "end": item.end_time.isoformat() if item.end_time else None,
                "start_s": int(item.start_time.timestamp()) if item.start_time else None,
                "end_s": int(item.end_time.timestamp()) if item.end_time else None,
                "name": item.name,
                "file_path": item.file_path,
                "type": item.type,
                "file_size": item.file_size,
                "secrecy": item.secrecy,
            }
            for item in result.items
        ],
    }
