"""Recording policies: which channels record, when, and into which pool (DESIGN §6).

Without a ``recording_policies`` row a channel records continuously when its class asks
for it (REQUIREMENTS R1/R3: class 1 and class 2 are recorded 24 h; class 3 records
locally, on the device), into the default pool. A row overrides any of: ``enabled``
(NULL keeps the class default), a weekly ``schedule`` and the ``pool``.

A schedule is a list of windows ``[weekday, start_minute, end_minute]`` (weekday 0 =
Monday; minutes of the local day, end exclusive, ``end_minute`` up to 1440); a window
crossing midnight is written as two. Empty means always. Local time is the zone of
``settings.recording.coverage_timezone`` — the same local day coverage reports count —
so an operator's "08:00-20:00" means the same thing on every page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, recording_policies
from vigil.recording.errors import RecordingInputError

RECORDED_CLASSES = frozenset({1, 2})
MINUTES_PER_DAY = 24 * 60
MAX_WINDOWS = 7 * 48


@dataclass(frozen=True, slots=True)
class ScheduleWindow:
    weekday: int  # 0 = Monday
    start_minute: int
    end_minute: int  # exclusive

    def as_list(self) -> list[int]:
        return [self.weekday, self.start_minute, self.end_minute]


Schedule = tuple[ScheduleWindow, ...]


def parse_schedule(raw: Iterable[Any]) -> Schedule:
    """Validate ``[[weekday, start_minute, end_minute], ...]``; RecordingInputError if bad."""
    windows: list[ScheduleWindow] = []
    for index, item in enumerate(raw):
        if index >= MAX_WINDOWS:
            raise RecordingInputError(f"a schedule has at most {MAX_WINDOWS} windows")
        if (
            not isinstance(item, list | tuple)
            or len(item) != 3
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
        ):
            raise RecordingInputError(f"window {index}: expected [weekday, start, end] integers")
        weekday, start, end = item
        if not 0 <= weekday <= 6:
            raise RecordingInputError(f"window {index}: weekday must be 0 (Monday) to 6")
        if not 0 <= start < end <= MINUTES_PER_DAY:
            raise RecordingInputError(
                f"window {index}: minutes must satisfy 0 <= start < end <= {MINUTES_PER_DAY}"
            )
        windows.append(ScheduleWindow(weekday, start, end))
    return tuple(sorted(windows, key=lambda w: (w.weekday, w.start_minute)))


def in_schedule(schedule: Schedule, when: datetime, zone: tzinfo) -> bool:
    """Whether the aware instant ``when`` falls in one of the windows (empty: always)."""
    if not schedule:
        return True
    local = when.astimezone(zone)
    minute = local.hour * 60 + local.minute
    weekday = local.weekday()
    return any(w.weekday == weekday and w.start_minute <= minute < w.end_minute for w in schedule)


def next_change(schedule: Schedule, when: datetime, zone: tzinfo) -> datetime | None:
    """The next instant (to the minute) at which ``in_schedule`` changes; None: never."""
    if not schedule:
        return None
    now = in_schedule(schedule, when, zone)
    probe = when.astimezone(zone).replace(second=0, microsecond=0)
    for _ in range(7 * MINUTES_PER_DAY + 1):  # one week of minutes covers every window
        probe += timedelta(minutes=1)
        if in_schedule(schedule, probe, zone) != now:
            return probe.astimezone(UTC)
    return None


@dataclass(frozen=True, slots=True)
class RecordingPolicy:
    """A channel's stored override (the row)."""

    channel_id: str
    enabled: bool | None
    schedule: Schedule
    pool: str | None
    updated_by: str
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class EffectivePolicy:
    """What applies to a channel: its class default merged with its override."""

    channel_id: str
    point_class: int
    enabled: bool
    schedule: Schedule
    pool: str
    overridden: bool

    def records_at(self, when: datetime, zone: tzinfo) -> bool:
        return self.enabled and in_schedule(self.schedule, when, zone)


def effective_policy(
    channel_id: str, point_class: int, override: RecordingPolicy | None, default_pool: str
) -> EffectivePolicy:
    default_enabled = point_class in RECORDED_CLASSES
    if override is None:
        return EffectivePolicy(channel_id, point_class, default_enabled, (), default_pool, False)
    return EffectivePolicy(
        channel_id=channel_id,
        point_class=point_class,
        enabled=default_enabled if override.enabled is None else override.enabled,
        schedule=override.schedule,
        pool=override.pool or default_pool,
        overridden=True,
    )


def _policy(row: sa.Row[Any]) -> RecordingPolicy:
    m = row._mapping
    return RecordingPolicy(
        channel_id=str(m["channel_id"]),
        enabled=m["enabled"],
        schedule=parse_schedule(m["schedule"] or []),
        pool=m["pool"],
        updated_by=str(m["updated_by"] or ""),
        updated_at=m["updated_at"],
    )


async def get_policy(conn: AsyncConnection, channel_id: str) -> RecordingPolicy | None:
    row = (
        await conn.execute(
            sa.select(recording_policies).where(recording_policies.c.channel_id == channel_id)
        )
    ).first()
    return _policy(row) if row is not None else None


async def set_policy(
    conn: AsyncConnection,
    channel_id: str,
    *,
    enabled: bool | None,
    schedule: Sequence[Any],
    pool: str | None,
    updated_by: str,
    known_pools: Iterable[str],
) -> RecordingPolicy:
    """Store the channel's override (replacing any earlier one)."""
    windows = parse_schedule(schedule)
    if pool is not None and pool not in set(known_pools):
        raise RecordingInputError(f"unknown storage pool {pool!r}")
    values = {
        "enabled": enabled,
        "schedule": [w.as_list() for w in windows],
        "pool": pool,
        "updated_by": updated_by,
        "updated_at": datetime.now(UTC),
    }
    p = recording_policies.c
    updated = await conn.execute(
        recording_policies.update().where(p.channel_id == channel_id).values(**values)
    )
    if not updated.rowcount:
        await conn.execute(recording_policies.insert().values(channel_id=channel_id, **values))
    policy = await get_policy(conn, channel_id)
    assert policy is not None
    return policy


async def delete_policy(conn: AsyncConnection, channel_id: str) -> bool:
    """Back to the class default; False when there was no override."""
    result = await conn.execute(
        recording_policies.delete().where(recording_policies.c.channel_id == channel_id)
    )
    return bool(result.rowcount)


@dataclass(frozen=True, slots=True)
class RecordingCandidate:
    """A ledger point with its device and online state, and the policy that applies."""

    channel_id: str
    device_id: str | None
    online: bool
    policy: EffectivePolicy


async def recording_candidates(
    conn: AsyncConnection, default_pool: str
) -> list[RecordingCandidate]:
    """Every point whose policy may record at some time (enabled), with its device."""
    c = channels.c
    p = recording_policies.c
    rows = await conn.execute(
        sa.select(c.id, c.device_id, c.online, c.point_class, recording_policies)
        .select_from(channels.outerjoin(recording_policies, p.channel_id == c.id))
        .where(
            sa.or_(
                p.enabled.is_(True),
                sa.and_(p.enabled.is_(None), c.point_class.in_(sorted(RECORDED_CLASSES))),
            )
        )
        .order_by(c.id)
    )
    out: list[RecordingCandidate] = []
    for row in rows:
        m = row._mapping
        override = _policy(row) if m["channel_id"] is not None else None
        policy = effective_policy(str(m["id"]), int(m["point_class"]), override, default_pool)
        out.append(RecordingCandidate(str(m["id"]), m["device_id"], bool(m["online"]), policy))
    return out
