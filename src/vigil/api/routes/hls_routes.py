"""Recorded ranges for other players: an HLS VOD playlist and the bytes it points into.

``GET /channels/{id}/playback.m3u8?start=&end=`` lists the stored fragments of the range as
byte ranges of segment files (:mod:`vigil.recording.hls_playlist`); the init segments and
segment files are served by the two routes below it, with HTTP Range support. Players
cannot send headers, so ``?token=`` is accepted and, when the playlist was asked for with
one, carried into every URI it lists. All three check ``playback.view`` and the channel's
scope; the playlist is audited once (``playback.hls``: who, channel, range), the byte
requests it causes are not.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.recording.errors import SegmentFileError
from vigil.recording.hls_playlist import hls_playlist
from vigil.recording.index import segment_by_id, segments_between, video_params_by_id
from vigil.recording.playback_session import iso, parse_instant
from vigil.recording.segment_reader import SegmentReader
from vigil.registry import channels

router = APIRouter(prefix=API_PREFIX, tags=["playback"])
Player = Annotated[Principal, Depends(require(Permission.PLAYBACK_VIEW))]
MAX_RANGE = timedelta(hours=24)
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


async def _check_channel(ctx: ApiContext, principal: Principal, channel_id: str) -> None:
    async with ctx.engine.connect() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)


def _files(ctx: ApiContext) -> SegmentReader:
    if ctx.segment_reader is None:
        raise ApiError(503, "unavailable", "recordings are not available")
    return ctx.segment_reader


def _instant(name: str, text: str) -> datetime:
    try:
        return parse_instant(text)
    except ValueError:
        raise ApiError(422, "validation_failed", f"{name} must be an ISO 8601 instant") from None


@router.get("/channels/{channel_id}/playback.m3u8")
async def playlist(
    channel_id: str, start: str, end: str, request: Request, ctx: Ctx, principal: Player
) -> Response:
    """HLS VOD playlist of the recorded range [start, end): byte ranges of segment files."""
    begin, finish = _instant("start", start), _instant("end", end)
    if not begin < finish <= begin + MAX_RANGE:
        raise ApiError(422, "validation_failed", "end must follow start, within 24 hours")
    _files(ctx)
    await _check_channel(ctx, principal, channel_id)
    rows = await segments_between(ctx.engine, channel_id, begin, finish)
    token = request.query_params.get("token")
    suffix = f"?token={quote(token, safe='')}" if token else ""
    result = hls_playlist(
        rows, begin, finish,
        init_uri=lambda params_id: f"playback/init/{params_id}.mp4{suffix}",
        segment_uri=lambda row: f"playback/segments/{row.id}.mp4{suffix}",
    )  # fmt: skip
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn, ctx, request, principal.username, "playback.hls", channel_id,
            {"start": iso(begin), "end": iso(finish), "fragments": result.fragments,
             "duration_s": round(result.duration_s, 3)},
        )  # fmt: skip
    return Response(result.text, media_type=PLAYLIST_TYPE, headers={"Cache-Control": "no-store"})


@router.get("/channels/{channel_id}/playback/init/{params_id}.mp4")
async def init_segment(channel_id: str, params_id: int, ctx: Ctx, principal: Player) -> Response:
    """The init segment (ftyp+moov) of one set of recorded video parameters."""
    await _check_channel(ctx, principal, channel_id)
    params = await video_params_by_id(ctx.engine, params_id)
    if params is None:
        raise ApiError(404, "not_found", f"no video parameters {params_id}")
    return Response(
        params.init_segment,
        media_type="video/mp4",
        headers={"Cache-Control": "private, max-age=86400"},
    )


@router.get("/channels/{channel_id}/playback/segments/{segment_id}.mp4")
async def segment_file(
    channel_id: str, segment_id: int, ctx: Ctx, principal: Player
) -> FileResponse:
    """A segment file (standalone fMP4); Range requests give byte ranges (206)."""
    files = _files(ctx)
    await _check_channel(ctx, principal, channel_id)
    row = await segment_by_id(ctx.engine, segment_id)
    if row is None or row.channel_id != channel_id:
        raise ApiError(404, "not_found", f"no segment {segment_id} of {channel_id}")
    try:
        path = files.path_of(row)
    except SegmentFileError as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    if not path.is_file():
        raise ApiError(404, "not_found", f"segment {segment_id} is no longer stored")
    return FileResponse(
        path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"}
    )
