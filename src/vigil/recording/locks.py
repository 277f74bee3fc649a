"""Evidence locks: a channel's time range that no purge may delete (DESIGN §6).

A lock names who set it, why (and usually a case number) and optionally until when. It is
active from creation until it is released or its ``expires_at`` passes; retention skips
every segment overlapping an active lock, whatever the channel's age limit or the pool's
quota. Released locks stay as rows: they are part of the evidence trail. Callers audit
creation and release; scope checks belong to the caller (the channel's region/owner).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import evidence_locks
from vigil.recording.errors import RecordingInputError

MAX_REASON_CHARS = 2000
MAX_CASE_NUMBER_CHARS = 64


@dataclass(frozen=True, slots=True)
class EvidenceLock:
    id: int
    channel_id: str
    start_at: datetime
    end_at: datetime
    reason: str
    case_number: str
    locked_by: str
    created_at: datetime
    expires_at: datetime | None
    released_by: str | None
    released_at: datetime | None

    def active_at(self, now: datetime) -> bool:
        return self.released_at is None and (self.expires_at is None or self.expires_at > now)


def _lock(row: sa.Row[tuple[object, ...]]) -> EvidenceLock:
    m = row._mapping
    return EvidenceLock(
        id=int(m["id"]),
        channel_id=str(m["channel_id"]),
        start_at=m["start_at"],
        end_at=m["end_at"],
        reason=str(m["reason"]),
        case_number=str(m["case_number"]),
        locked_by=str(m["locked_by"]),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        released_by=m["released_by"],
        released_at=m["released_at"],
    )


def _active_clause(now: datetime) -> sa.ColumnElement[bool]:
    c = evidence_locks.c
    return sa.and_(c.released_at.is_(None), sa.or_(c.expires_at.is_(None), c.expires_at > now))


async def create_lock(
    conn: AsyncConnection,
    *,
    channel_id: str,
    start_at: datetime,
    end_at: datetime,
    reason: str,
    locked_by: str,
    case_number: str = "",
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> EvidenceLock:
    """Lock [start_at, end_at) of the channel; RecordingInputError for impossible values."""
    now = now or datetime.now(UTC)
    reason = reason.strip()
    case_number = case_number.strip()
    if not reason:
        raise RecordingInputError("a reason is required")
    if len(reason) > MAX_REASON_CHARS:
        raise RecordingInputError(f"the reason exceeds {MAX_REASON_CHARS} characters")
    if len(case_number) > MAX_CASE_NUMBER_CHARS:
        raise RecordingInputError(f"the case number exceeds {MAX_CASE_NUMBER_CHARS} characters")
    if end_at <= start_at:
        raise RecordingInputError("the range must end after it starts")
    if expires_at is not None and expires_at <= now:
        raise RecordingInputError("the expiry must lie in the future")
    result = await conn.execute(
        evidence_locks.insert().values(
            channel_id=channel_id,
            start_at=start_at,
            end_at=end_at,
            reason=reason,
            case_number=case_number,
            locked_by=locked_by,
            created_at=now,
            expires_at=expires_at,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    created = await lock_by_id(conn, int(key[0]))
    assert created is not None
    return created


async def lock_by_id(conn: AsyncConnection, lock_id: int) -> EvidenceLock | None:
    row = (
        await conn.execute(sa.select(evidence_locks).where(evidence_locks.c.id == lock_id))
    ).first()
    return _lock(row) if row is not None else None


async def list_locks(
    conn: AsyncConnection,
    channel_id: str,
    *,
    active_only: bool = False,
    now: datetime | None = None,
) -> list[EvidenceLock]:
    """The channel's locks, newest first."""
    query = sa.select(evidence_locks).where(evidence_locks.c.channel_id == channel_id)
    if active_only:
        query = query.where(_active_clause(now or datetime.now(UTC)))
    rows = await conn.execute(query.order_by(evidence_locks.c.created_at.desc()))
    return [_lock(row) for row in rows]


async def release_lock(
    conn: AsyncConnection, lock_id: int, released_by: str, *, now: datetime | None = None
) -> EvidenceLock | None:
    """Release an active lock (releasing twice keeps the first release); None if absent."""
    await conn.execute(
        evidence_locks.update()
        .where(evidence_locks.c.id == lock_id, evidence_locks.c.released_at.is_(None))
        .values(released_by=released_by, released_at=now or datetime.now(UTC))
    )
    return await lock_by_id(conn, lock_id)


LockedRanges = dict[str, list[tuple[datetime, datetime]]]


async def active_lock_ranges(
    conn: AsyncConnection, now: datetime, channel_ids: Iterable[str] | None = None
) -> LockedRanges:
    """Per channel, the [start, end) ranges under an active lock (all channels if None)."""
    query = sa.select(
        evidence_locks.c.channel_id, evidence_locks.c.start_at, evidence_locks.c.end_at
    ).where(_active_clause(now))
    if channel_ids is not None:
        query = query.where(evidence_locks.c.channel_id.in_(list(channel_ids)))
    ranges: LockedRanges = defaultdict(list)
    for channel_id, start_at, end_at in await conn.execute(query):
        ranges[str(channel_id)].append((start_at, end_at))
    return dict(ranges)


def is_locked(ranges: LockedRanges, channel_id: str, start_at: datetime, end_at: datetime) -> bool:
    """Whether [start_at, end_at) of the channel overlaps an active lock."""
    return any(s < end_at and start_at < e for s, e in ranges.get(channel_id, ()))
