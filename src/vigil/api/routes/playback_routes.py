"""Playback of recordings over the live path (DESIGN §6, §8): fMP4 over WebSocket to MSE.

``/channels/{id}/playback?start=ISO&speed=1&token=`` sends, like the live view, an init
segment and fragments as binary messages, plus JSON text messages (position, gap, end,
acks); the client sends JSON commands (pause, resume, speed, seek). The protocol is
described in :mod:`vigil.recording.playback_session`.

The caller needs ``playback.view`` and the channel in scope, else the socket closes with
4401 (unauthenticated), 4403 (permission) or 4404 (not found / out of scope); 4400 for a
malformed start or speed, 4503 when recordings are not available, 1011 when a segment
file cannot be read. Every playback is audited once when it ends (``playback.recorded``):
who, which channel, the wall ranges actually played, from when to when.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import record_audit
from vigil.api.fmp4_socket import text_messages
from vigil.api.routes import API_PREFIX
from vigil.api.websocket_auth import (
    SocketRefusedError,
    authorise_socket,
    close_reason,
    close_refused,
)
from vigil.recording.errors import RecordingError
from vigil.recording.playback_clock import SPEEDS
from vigil.recording.playback_session import PlaybackSession, iso, parse_instant

router = APIRouter(prefix=API_PREFIX, tags=["playback"])


class _SocketSink:
    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send_bytes(self, data: bytes) -> None:
        await self._websocket.send_bytes(data)

    async def send_text(self, data: str) -> None:
        await self._websocket.send_text(data)


def _parameters(websocket: WebSocket) -> tuple[datetime, int]:
    query = websocket.query_params
    try:
        start = parse_instant(query.get("start", ""))
    except ValueError:
        raise SocketRefusedError(4400, "start must be an ISO 8601 instant") from None
    speed_text = query.get("speed", "1")
    if not speed_text.isdigit() or int(speed_text) not in SPEEDS:
        raise SocketRefusedError(4400, f"speed must be one of {SPEEDS}")
    return start, int(speed_text)


@router.websocket("/channels/{channel_id}/playback")
async def playback(websocket: WebSocket, channel_id: str) -> None:
    """Recorded video from ``start``: init segment and fragments (binary), JSON messages."""
    ctx = websocket.app.state.ctx
    assert isinstance(ctx, ApiContext)
    await websocket.accept()
    try:
        principal, _channel = await authorise_socket(
            websocket, ctx, channel_id, Permission.PLAYBACK_VIEW
        )
        start, speed = _parameters(websocket)
        if ctx.segment_reader is None:
            raise SocketRefusedError(4503, "recordings are not available")
    except SocketRefusedError as refused:
        await close_refused(websocket, refused)
        return
    session = PlaybackSession(ctx.engine, ctx.segment_reader, channel_id, start, speed=speed)
    began = datetime.now(UTC)
    reason = "the viewer closed"
    sender = asyncio.ensure_future(session.run(_SocketSink(websocket)))
    listener = asyncio.ensure_future(_listen(websocket, session))
    try:
        done, _ = await asyncio.wait({sender, listener}, return_when=asyncio.FIRST_COMPLETED)
        if sender in done and not sender.cancelled():
            error = sender.exception()
            if isinstance(error, RecordingError):
                reason = f"recording unreadable: {error}"
                with contextlib.suppress(Exception):
                    await websocket.close(1011, close_reason(reason))
            elif error is not None and not isinstance(error, WebSocketDisconnect | OSError):
                raise error
    finally:
        for task in (sender, listener):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        detail = session.audit_detail()
        detail.update({"from": iso(began), "to": iso(datetime.now(UTC)), "reason": reason})
        async with ctx.engine.begin() as conn:
            await record_audit(
                conn, ctx, websocket, principal.username, "playback.recorded", channel_id, detail
            )


async def _listen(websocket: WebSocket, session: PlaybackSession) -> None:
    """Feed the client's text messages to the session until it goes away."""
    async for text in text_messages(websocket):
        session.command(text)
