"""A channel's recordings in a range: segments, continuous spans and gaps with causes.

The playback page's timeline bar reads this shape. It is metadata (no video leaves), so it
is scope-checked but not audited per call, like the ledger reads.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.deps import Ctx, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.recording.timeline import channel_recordings
from vigil.registry import channels

router = APIRouter(prefix=API_PREFIX, tags=["recordings"])
Viewer = Annotated[Principal, Depends(require(Permission.PLAYBACK_VIEW))]

MAX_RANGE = timedelta(days=8)  # a week and a margin: ~11 500 one-minute segments at most


def as_utc(value: datetime) -> datetime:
    """Aware UTC; a time written without a zone is taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    return as_utc(value).isoformat().replace("+00:00", "Z")


def checked_range(start: datetime, end: datetime, longest: timedelta) -> tuple[datetime, datetime]:
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ApiError(422, "invalid_range", "end must be after start")
    if end - start > longest:
        raise ApiError(422, "invalid_range", f"the range may span at most {longest.days} days")
    return start, end


@router.get("/channels/{channel_id}/recordings")
async def list_recordings(
    channel_id: str, start: datetime, end: datetime, ctx: Ctx, principal: Viewer
) -> dict[str, Any]:
    """Segments overlapping [start, end), merged spans and gaps with their causes."""
    start, end = checked_range(start, end, MAX_RANGE)
    async with ctx.engine.connect() as conn:
        await channels.get_channel(conn, scope_of(principal), channel_id, retention=ctx.retention)
    rows, timeline = await channel_recordings(ctx.engine, channel_id, start, end)
    return {
        "channel_id": channel_id,
        "start": iso(start),
        "end": iso(end),
        "segments": [
            {
                "id": row.id,
                "start": iso(row.start_at),
                "end": iso(row.end_at),
                "duration_s": round(row.duration_s, 3),
                "size_bytes": row.size_bytes,
                "recovered": row.recovered,
            }
            for row in rows
        ],
        "spans": [{"start": iso(s.start_at), "end": iso(s.end_at)} for s in timeline.spans],
        "gaps": [
            {"start": iso(g.start_at), "end": iso(g.end_at), "cause": g.cause}
            for g in timeline.gaps
        ],
    }
