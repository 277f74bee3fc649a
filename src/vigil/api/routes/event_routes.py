"""Server-Sent Events: device and channel online changes pushed to browsers, within scope."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.registry import devices
from vigil.registry.errors import NotFoundError
from vigil.registry.scope import Scope
from vigil.signaling.events import (
    CatalogUpdated,
    ChannelStatus,
    DeviceOffline,
    DeviceOnline,
    SignalingEvent,
)

router = APIRouter(prefix=API_PREFIX, tags=["events"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]

PING_INTERVAL_S = 15.0  # keeps proxies from closing an idle stream
VISIBILITY_TTL_S = 60.0  # a device moved out of scope stops showing within this
VISIBILITY_MAX_ENTRIES = 10_000


class DeviceVisibility:
    """Whether a device lies in the caller's scope, cached briefly per stream."""

    def __init__(self, engine: AsyncEngine, scope: Scope) -> None:
        self._engine = engine
        self._scope = scope
        self._cache: dict[str, tuple[bool, float]] = {}

    async def covers(self, device_id: str) -> bool:
        if self._scope.unrestricted:
            return True
        now = time.monotonic()
        cached = self._cache.get(device_id)
        if cached is not None and now - cached[1] < VISIBILITY_TTL_S:
            return cached[0]
        try:
            async with self._engine.connect() as conn:
                await devices.get_device(conn, self._scope, device_id)
            visible = True
        except NotFoundError:
            visible = False
        if len(self._cache) >= VISIBILITY_MAX_ENTRIES:
            self._cache.clear()
        self._cache[device_id] = (visible, now)
        return visible


def sse_message(event: SignalingEvent) -> str:
    """One SSE message: ``event: <type>`` and the event as JSON."""
    kind = {
        DeviceOnline: "device",
        DeviceOffline: "device",
        ChannelStatus: "channel",
        CatalogUpdated: "catalog",
    }[type(event)]
    payload = jsonable_encoder(asdict(event))
    if isinstance(event, DeviceOnline | DeviceOffline):
        payload["online"] = isinstance(event, DeviceOnline)
    return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False)}\n\n"


@router.get("/events")
async def events(request: Request, ctx: Ctx, principal: Reader) -> StreamingResponse:
    """A text/event-stream of ``device``, ``channel`` and ``catalog`` events in scope."""
    if ctx.signaling is None:
        raise ApiError(503, "unavailable", "GB/T 28181 signalling is not running")
    visibility = DeviceVisibility(ctx.engine, scope_of(principal))
    subscription = ctx.signaling.subscribe_events()

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": connected\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(subscription.get(), PING_INTERVAL_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": ping\n\n"
                    continue
                if await visibility.covers(event.device_id):
                    yield sse_message(event)
        finally:
            subscription.close()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
