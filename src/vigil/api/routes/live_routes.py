"""Live video of a collection point (DESIGN §9): fMP4 over WebSocket, JPEG snapshots and
the timeline of the current or last play.

The channel is read through the registry with the caller's scope first, so a channel outside
it is "not found" here exactly as in the ledger. The WebSocket carries the fMP4 init segment
and then one fragment per binary message; browsers pass the token as ``?token=``. Failures
after the upgrade close the socket with 4401 (unauthenticated), 4403 (permission), 4404
(not found / out of scope), 4409 (channel without device), 4502/4503/4504 (play failed,
with the verdict as the close reason) or 1011 (the stream ended).
"""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, WebSocket

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.fmp4_socket import stream_to_viewer, text_messages
from vigil.api.routes import API_PREFIX
from vigil.api.websocket_auth import (
    SocketRefusedError,
    authorise_socket,
    close_reason,
    close_refused,
)
from vigil.media.errors import SnapshotError, StreamClosedError
from vigil.media.hub import StreamHub
from vigil.media.live import LiveFmp4Session
from vigil.media.transcoder import TranscodeLease, TranscoderUnavailableError
from vigil.protocols.samples import Codec
from vigil.registry import channels
from vigil.registry.channels import Channel
from vigil.streams import LiveStream, LiveStreams, PlayError

router = APIRouter(prefix=API_PREFIX, tags=["live"])
Viewer = Annotated[Principal, Depends(require(Permission.LIVE_VIEW))]


async def _channel(ctx: ApiContext, principal: Principal, channel_id: str) -> Channel:
    async with ctx.engine.connect() as conn:
        return await channels.get_channel(
            conn, scope_of(principal), channel_id, retention=ctx.retention
        )


def _streams(ctx: ApiContext) -> LiveStreams:
    if ctx.streams is None:
        raise ApiError(503, "unavailable", "live video is not running")
    return ctx.streams


async def _open(ctx: ApiContext, channel: Channel) -> LiveStream:
    streams = _streams(ctx)
    if channel.device_id is None:
        raise ApiError(409, "no_device", f"{channel.id} is not attached to a device")
    try:
        return await streams.open_live(channel.id, channel.device_id)
    except PlayError as exc:
        raise ApiError(exc.status, "play_failed", exc.verdict) from None


@router.get("/channels/{channel_id}/snapshot.jpg")
async def snapshot(channel_id: str, request: Request, ctx: Ctx, principal: Viewer) -> Response:
    """A JPEG of the latest keyframe, opening the stream on demand."""
    channel = await _channel(ctx, principal, channel_id)
    lease = await _open(ctx, channel)
    try:
        jpeg = await ctx.snapshotter.jpeg(lease.hub)
    except SnapshotError as exc:
        session = lease.session
        raise ApiError(504, "no_picture", f"{exc}; {session.answer_summary or ''}") from None
    finally:
        lease.release()
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "live.snapshot", channel_id,
            {"bytes": len(jpeg)},
        )  # fmt: skip
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/channels/{channel_id}/play-sessions")
async def play_sessions(channel_id: str, ctx: Ctx, principal: Viewer) -> dict[str, Any]:
    """The current (or last) play of the channel: timeline and, on failure, the verdict."""
    await _channel(ctx, principal, channel_id)
    session = _streams(ctx).session(channel_id)
    return {"items": [] if session is None else [session.to_dict()]}


@router.websocket("/channels/{channel_id}/live")
async def live(websocket: WebSocket, channel_id: str) -> None:
    """fMP4 live view: the init segment, then fragments, as binary messages."""
    ctx = websocket.app.state.ctx
    assert isinstance(ctx, ApiContext)
    await websocket.accept()
    try:
        principal, channel = await authorise_socket(
            websocket, ctx, channel_id, Permission.LIVE_VIEW
        )
        try:
            lease = await _open(ctx, channel)
        except ApiError as exc:
            raise SocketRefusedError.from_api_error(exc) from None
    except SocketRefusedError as refused:
        await close_refused(websocket, refused)
        return
    started = time.monotonic()
    sent = [0]
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, websocket, principal.username, "live.start", channel_id,
            {"device_id": channel.device_id, "ssrc": lease.session.ssrc},
        )  # fmt: skip
    reason = "the stream ended"
    transcode: TranscodeLease | None = None
    try:
        picked = await _browser_hub(ctx, channel_id, lease.hub)
        if picked is None:  # the stream ended before its first keyframe
            reason = lease.session.verdict or reason
            with contextlib.suppress(Exception):
                await websocket.close(1011, close_reason(reason))
            return
        hub, transcode = picked
        async with LiveFmp4Session.open(hub) as session:
            outcome = await stream_to_viewer(websocket, session, sent, _until_closed(websocket))
            if outcome.stream_ended:
                verdict = lease.session.verdict
                reason = verdict or reason
                with contextlib.suppress(Exception):
                    await websocket.close(1011, close_reason(reason))
            elif outcome.viewer_left:
                reason = "the viewer closed"
    finally:
        if transcode is not None:
            transcode.release()
        lease.release()
        async with ctx.engine.begin() as conn:
            await record_audit(
                conn, ctx, websocket, principal.username, "live.stop", channel_id,
                {"duration_s": round(time.monotonic() - started, 1), "messages": sent[0],
                 "reason": reason},
            )  # fmt: skip


async def _browser_hub(
    ctx: ApiContext, channel_id: str, source: StreamHub
) -> tuple[StreamHub, TranscodeLease | None] | None:
    """The hub a browser can play: the source, or for H.265 the channel's shared H.264
    transcode (Chromium's MSE has no H.265; DESIGN §5). None when the stream ends first."""
    try:
        keyframe = await source.wait_keyframe()  # the codec is known from the first one
    except StreamClosedError:
        return None
    if keyframe.codec is not Codec.H265 or ctx.transcoders is None:
        return source, None
    try:
        transcode = ctx.transcoders.acquire(channel_id, source)
    except TranscoderUnavailableError:
        return source, None  # H.265 as it is: a client that plays it still can
    return transcode.hub, transcode


async def _until_closed(websocket: WebSocket) -> None:
    async for _text in text_messages(websocket):
        pass  # the live view takes no commands
