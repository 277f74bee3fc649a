"""Recording events: what happened to a channel's recording, so every gap has a cause.

The recorder writes one row per transition (started, stopped, stream lost, ...); coverage
reads them to explain the gaps it finds between segments (DESIGN §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.db.tables import recording_events
from vigil.recording.coverage_invalidation import invalidate_coverage_for_event

STARTED = "started"
STOPPED = "stopped"
STREAM_LOST = "stream_lost"
DEVICE_OFFLINE = "device_offline"
NOT_SCHEDULED = "not_scheduled"
DISK_FULL = "disk_full"
BEHIND = "behind"  # the recorder fell behind the stream and skipped a GOP
ERROR = "error"
# Retention overwrote footage inside the class guarantee (pool full, policy "overwrite");
# ``at`` is the start of the purged footage so the gap it leaves finds its cause.
PURGED_IN_GUARANTEE = "purged_in_guarantee"
EVENT_KINDS = frozenset(
    {
        STARTED,
        STOPPED,
        STREAM_LOST,
        DEVICE_OFFLINE,
        NOT_SCHEDULED,
        DISK_FULL,
        BEHIND,
        ERROR,
        PURGED_IN_GUARANTEE,
    }
)
MAX_DETAIL_CHARS = 2000


@dataclass(frozen=True, slots=True)
class RecordingEvent:
    id: int
    channel_id: str
    at: datetime
    kind: str
    detail: str


async def add_event(
    conn: AsyncConnection,
    channel_id: str,
    kind: str,
    detail: str = "",
    *,
    at: datetime | None = None,
) -> None:
    """Append one event (``kind`` from :data:`EVENT_KINDS`).

    Events are normally written as they happen; a back-dated one (retention dates
    ``purged_in_guarantee`` at the purged footage) may change the cause of a gap in a day
    whose coverage is stored, so that roll-up is dropped in the same transaction.
    """
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown recording event kind {kind!r}")
    now = datetime.now(UTC)
    when = at or now
    await conn.execute(
        recording_events.insert().values(
            channel_id=channel_id,
            at=when,
            kind=kind,
            detail=detail[:MAX_DETAIL_CHARS],
        )
    )
    await invalidate_coverage_for_event(conn, channel_id, when, now=now)


async def events_between(
    engine: AsyncEngine, channel_id: str, start: datetime, end: datetime
) -> list[RecordingEvent]:
    """The channel's events in [start, end), oldest first."""
    e = recording_events.c
    query = (
        sa.select(recording_events)
        .where(e.channel_id == channel_id, e.at >= start, e.at < end)
        .order_by(e.at, e.id)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        RecordingEvent(
            id=int(r.id), channel_id=str(r.channel_id), at=r.at, kind=str(r.kind), detail=r.detail
        )
        for r in rows
    ]
