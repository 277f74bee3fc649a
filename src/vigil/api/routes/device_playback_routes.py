"""Playback of a device's recordings over WebSocket (GB/T 28181-2016 §9.8; DESIGN §5).

``/channels/{id}/device-playback?start=&end=&speed=`` INVITEs the channel's device for the
window (``s=Playback``) and sends fMP4 exactly like the live WebSocket: the init segment,
then one fragment per frame, as binary messages, on a media timeline that advances at
``1 / speed`` of the recording (the playback's retimer), so a browser plays at the speed the
device sends. The viewer may send text messages
``{"action": "pause" | "resume" | "scale" | "seek", "value": n}`` (scale 0.5-8, seek in
seconds from ``start``); each is answered with ``{"ok": …, "state": …}``. The socket closes
with 1000 at the end of the recording (MediaStatus 121), else as the live socket does:
4401/4403/4404/4409, 4422 (bad window or speed), 4502/4503/4504 (the playback failed) or
1011. Every playback is authorised per channel and audited (start and stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import record_audit
from vigil.api.errors import ApiError
from vigil.api.fmp4_socket import stream_to_viewer, text_messages
from vigil.api.routes import API_PREFIX
from vigil.api.routes.device_record_routes import channel_on_device, parse_window
from vigil.api.websocket_auth import (
    SocketRefusedError,
    close_reason,
    close_refused,
    socket_principal,
)
from vigil.media.live import LiveFmp4Session
from vigil.playbacks import DevicePlayback, PlaybackError
from vigil.registry.errors import NotFoundError

router = APIRouter(prefix=API_PREFIX, tags=["playback"])

MAX_CONTROL_BYTES = 256


async def _open(
    websocket: WebSocket, ctx: ApiContext, channel_id: str, start: str, end: str, speed: float
) -> tuple[str, DevicePlayback]:
    principal = await socket_principal(websocket, ctx, Permission.PLAYBACK_VIEW)
    try:
        channel, device_id = await channel_on_device(ctx, principal, channel_id)
        begin, finish = parse_window(start, end)
    except NotFoundError as exc:
        raise SocketRefusedError(4404, str(exc)) from None
    except ApiError as exc:
        raise SocketRefusedError.from_api_error(exc) from None
    if ctx.playbacks is None:
        raise SocketRefusedError(4503, "device playback is not running")
    try:
        play = await ctx.playbacks.open(
            channel.id, device_id, int(begin.timestamp()), int(finish.timestamp())
        )
    except PlaybackError as exc:
        raise SocketRefusedError(4000 + exc.status, exc.verdict) from None
    if speed != 1.0:
        try:
            await play.set_scale(speed)
        except (ValueError, PlaybackError) as exc:
            await play.close("the requested speed was refused")
            raise SocketRefusedError(4422, str(exc)) from None
    return principal.username, play


@router.websocket("/channels/{channel_id}/device-playback")
async def device_playback(
    websocket: WebSocket, channel_id: str, start: str = "", end: str = "", speed: float = 1.0
) -> None:
    """fMP4 of the device's recording of ``[start, end]``, paced at ``speed``."""
    ctx = websocket.app.state.ctx
    assert isinstance(ctx, ApiContext)
    await websocket.accept()
    try:
        username, play = await _open(websocket, ctx, channel_id, start, end, speed)
    except SocketRefusedError as refused:
        await close_refused(websocket, refused)
        return
    started = time.monotonic()
    sent = [0]
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, websocket, username, "playback.start", play.channel_id,
            {"device_id": play.device_id, "play_id": play.play_id, "start": play.window_s[0],
             "end": play.window_s[1], "speed": speed, "ssrc": play.ssrc},
        )  # fmt: skip
    reason = "the viewer closed"
    try:
        async with LiveFmp4Session.open(play.hub, play.retimer) as session:
            outcome = await stream_to_viewer(websocket, session, sent, _control(websocket, play))
            if outcome.stream_ended:
                with contextlib.suppress(asyncio.TimeoutError):  # the stream ended: why?
                    await asyncio.wait_for(play.ended.wait(), 2.0)
                finished = play.state == "finished"
                reason = "end of the recording" if finished else play.verdict or "stream ended"
                with contextlib.suppress(Exception):
                    await websocket.close(1000 if finished else 1011, close_reason(reason))
    finally:
        await play.close("the viewer left")
        async with ctx.engine.begin() as conn:
            await record_audit(
                conn, ctx, websocket, username, "playback.stop", play.channel_id,
                {"play_id": play.play_id, "duration_s": round(time.monotonic() - started, 1),
                 "messages": sent[0], "state": play.state, "reason": reason},
            )  # fmt: skip


async def _control(websocket: WebSocket, play: DevicePlayback) -> None:
    """Text commands from the viewer until it disconnects."""
    with contextlib.suppress(WebSocketDisconnect):  # an answer to a viewer just gone
        async for text in text_messages(websocket):
            error = await _apply(play, text)
            answer: dict[str, object] = {"ok": error is None, "state": play.state}
            answer["scale"] = play.scale
            if error is not None:
                answer["error"] = error
            await websocket.send_text(json.dumps(answer))


async def _apply(play: DevicePlayback, text: str) -> str | None:
    try:
        command = json.loads(text[:MAX_CONTROL_BYTES])
        action, value = command.get("action"), command.get("value")
        if action == "pause":
            await play.pause()
        elif action == "resume":
            await play.resume()
        elif action == "scale" and isinstance(value, int | float):
            await play.set_scale(float(value))
        elif action == "seek" and isinstance(value, int | float):
            await play.seek(float(value))
        else:
            return "unknown command"
    except (ValueError, AttributeError) as exc:
        return str(exc) or "bad command"
    except PlaybackError as exc:
        return exc.verdict
    return None
