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

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.access.tokens import resolve_token
from vigil.api.context import ApiContext
from vigil.api.deps import bearer_token, record_audit, scope_of
from vigil.api.routes import API_PREFIX
from vigil.recording.errors import RecordingError
from vigil.recording.playback_clock import SPEEDS
from vigil.recording.playback_session import PlaybackSession, iso, parse_instant
from vigil.registry import channels
from vigil.registry.channels import Channel
from vigil.registry.errors import NotFoundError

router = APIRouter(prefix=API_PREFIX, tags=["playback"])

MAX_CLOSE_REASON = 120  # a close frame's reason holds 123 bytes


class RefusedError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def authorise_socket(
    websocket: WebSocket, ctx: ApiContext, channel_id: str, permission: Permission
) -> tuple[Principal, Channel]:
    """The caller and the channel, or RefusedError with the close code to send."""
    token = bearer_token(websocket)
    if token is None:
        raise RefusedError(4401, "authentication required")
    async with ctx.engine.connect() as conn:
        principal = await resolve_token(conn, token, datetime.now(UTC))
    if principal is None:
        raise RefusedError(4401, "the token is invalid or expired")
    if not principal.has(permission):
        raise RefusedError(4403, f"the {principal.role} role lacks {permission}")
    try:
        async with ctx.engine.connect() as conn:
            channel = await channels.get_channel(
                conn, scope_of(principal), channel_id, retention=ctx.retention
            )
    except NotFoundError as exc:
        raise RefusedError(4404, str(exc)) from None
    return principal, channel


def close_reason(text: str) -> str:
    return text.encode("utf-8")[:MAX_CLOSE_REASON].decode("utf-8", errors="ignore")


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
        raise RefusedError(4400, "start must be an ISO 8601 instant") from None
    speed_text = query.get("speed", "1")
    if not speed_text.isdigit() or int(speed_text) not in SPEEDS:
        raise RefusedError(4400, f"speed must be one of {SPEEDS}")
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
        if ctx.segment_files is None:
            raise RefusedError(4503, "recordings are not available")
    except RefusedError as refused:
        await websocket.close(refused.code, close_reason(refused.reason))
        return
    session = PlaybackSession(ctx.engine, ctx.segment_files, channel_id, start, speed=speed)
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
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is not None:
                session.command(text)
