"""Retention: age limits per channel, quotas per pool, never a silent cut (DESIGN §6).

One pass (``run_retention_pass``) does, in order:

1. **Age.** Each channel keeps ``keep_days``: its override, else its class default, never
   below the class minimum (REQUIREMENTS R1: class 1 ≥ 30 days, class 2 ≥ 15). Segments
   that ended before ``now - keep_days`` are deleted unless they overlap an active evidence
   lock. Segments of channels no longer in the ledger keep the class-1 period.
2. **Quota, outside guarantees.** A pool is over when its indexed bytes exceed its quota
   or its filesystem has less than ``min_free_bytes`` free. The oldest segments outside
   every guarantee go first: footage older than the class minimum (kept only by a longer
   override), class-3 footage, footage of channels no longer in the ledger. Locked
   footage is never touched.
3. **Quota, inside guarantees.** If the pool is still over, only guaranteed (or locked)
   footage remains. A ``storage_full`` alarm (critical, source = pool name) is raised,
   naming the channels and days at stake, and ``settings.recording.full_policy`` decides:

   * ``overwrite``: the oldest unlocked guaranteed footage is purged anyway; each channel
     affected gets a ``purged_in_guarantee`` recording event (``at`` = start of the purged
     footage, detail = range and bytes) so coverage shows the gap with its cause.
   * ``stop``: nothing more is purged; the pool is marked full (:class:`PoolFullState`),
     the recorder stops opening files there and logs ``disk_full`` events.

   The alarm is cleared, and a full pool reopened, once a pass finds the pool below its
   limits by a margin (:data:`CLEAR_MARGIN_FRACTION` of its capacity) without touching
   guaranteed footage, so a pool hovering at its limit does not flap.

Every deletion goes through ``garbage.delete_segments`` (row first, then file), so no row
ever names a missing file.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.db.tables import channels, segments
from vigil.recording import events
from vigil.recording.alarms import clear_alarm, raise_alarm
from vigil.recording.garbage import delete_segments
from vigil.recording.index import SegmentRow, segment_from_row
from vigil.recording.locks import LockedRanges, active_lock_ranges, is_locked
from vigil.recording.pools import DiskFree, disk_free, pool_usage
from vigil.recording.storage_alarm import (
    stake_by_channel,
    stake_json,
    storage_alarm_text,
)
from vigil.settings import RecordingSettings, RetentionSettings, StoragePool

logger = logging.getLogger(__name__)

STORAGE_FULL = "storage_full"  # alarm kind
CLEAR_MARGIN_FRACTION = 0.05
_BATCH_ROWS = 500


@dataclass(frozen=True, slots=True)
class ChannelRetention:
    keep_days: int  # age limit
    guarantee_days: int  # the class minimum defended under pressure (0: none)


def channel_retention(
    point_class: int | None, override_days: int | None, retention: RetentionSettings
) -> ChannelRetention:
    """The age limit and the guarantee of a channel (None class: not in the ledger)."""
    if point_class is None:
        return ChannelRetention(retention.class1_days, 0)
    default = retention.days_for_class(point_class)
    if point_class in (1, 2):
        return ChannelRetention(max(override_days or default, default), default)
    return ChannelRetention(override_days or default, 0)  # class 3: local recording, no floor


class PoolFullState:
    """Which pools the stop policy closed; the recorder asks before opening a file."""

    def __init__(self) -> None:
        self._full: set[str] = set()

    def pool_full(self, pool: str) -> bool:
        return pool in self._full

    def set_full(self, pool: str, full: bool) -> None:
        if full:
            self._full.add(pool)
        else:
            self._full.discard(pool)

    @property
    def full_pools(self) -> frozenset[str]:
        return frozenset(self._full)


@dataclass(slots=True)
class RetentionReport:
    aged_segments: int = 0
    quota_segments: int = 0
    guaranteed_segments: int = 0  # purged inside a guarantee (policy overwrite)
    bytes_freed: int = 0
    alarms_raised: list[str] = field(default_factory=list)  # pool names
    alarms_cleared: list[str] = field(default_factory=list)
    full_pools: list[str] = field(default_factory=list)


async def _retention_by_channel(
    conn: AsyncConnection, retention: RetentionSettings
) -> dict[str, ChannelRetention]:
    c = channels.c
    rows = await conn.execute(sa.select(c.id, c.point_class, c.retention_days))
    return {str(i): channel_retention(int(k), d, retention) for i, k, d in rows}


async def _over_bytes(
    engine: AsyncEngine, pool: StoragePool, min_free_bytes: int, free_of: DiskFree
) -> tuple[int, int]:
    """(bytes over the pool's limits — negative when under, the pool's capacity)."""
    usage = await pool_usage(engine, [pool], min_free_bytes=min_free_bytes, free_of=free_of)
    return -usage[pool.name].room_bytes, usage[pool.name].capacity_bytes


async def _purge_aged(
    engine: AsyncEngine,
    pool_dirs: dict[str, Path],
    policy: dict[str, ChannelRetention],
    unknown: ChannelRetention,
    locks: LockedRanges,
    now: datetime,
    fsync: bool,
    report: RetentionReport,
) -> None:
    shortest = now - timedelta(
        days=min([p.keep_days for p in policy.values()] + [unknown.keep_days])
    )
    s = segments.c
    # Only rows old enough for the shortest limit are looked at: a range of the
    # (pool, start_at) index, small in steady state (what aged since the last pass).
    async with engine.connect() as conn:
        candidates = (
            await conn.scalars(
                sa.select(s.channel_id)
                .where(s.pool.in_(list(pool_dirs)), s.start_at <= shortest, s.end_at <= shortest)
                .distinct()
            )
        ).all()
    for channel_id in candidates:
        cutoff = now - timedelta(days=policy.get(channel_id, unknown).keep_days)
        aged = _oldest_first(
            engine, s.channel_id == channel_id, s.start_at <= cutoff, s.end_at <= cutoff
        )
        async with contextlib.aclosing(aged) as pages:
            async for rows in pages:
                doomed = [r for r in rows if not is_locked(locks, channel_id, r.start_at, r.end_at)]
                report.bytes_freed += await delete_segments(
                    engine, pool_dirs, doomed, "retention", fsync=fsync
                )
                report.aged_segments += len(doomed)


async def _oldest_first(
    engine: AsyncEngine, *conditions: sa.ColumnElement[bool]
) -> AsyncGenerator[list[SegmentRow], None]:
    """Pages of the segments meeting ``conditions``, oldest first.

    Keyset pagination on (start_at, id): rows a caller keeps (locked, unwanted) stay behind
    the last page read and are never read again; rows it deletes do not shift the pages.
    """
    s = segments.c
    last: tuple[datetime, int] | None = None
    while True:
        query = sa.select(segments).where(*conditions)
        if last is not None:
            query = query.where(
                sa.or_(s.start_at > last[0], sa.and_(s.start_at == last[0], s.id > last[1]))
            )
        async with engine.connect() as conn:
            rows = [
                segment_from_row(r)
                for r in await conn.execute(query.order_by(s.start_at, s.id).limit(_BATCH_ROWS))
            ]
        if not rows:
            return
        last = (rows[-1].start_at, rows[-1].id)
        yield rows


async def _oldest(
    engine: AsyncEngine, pool: str, need_bytes: int, wanted: Callable[[SegmentRow], bool]
) -> list[SegmentRow]:
    """The pool's oldest segments accepted by ``wanted`` adding up to ``need_bytes``."""
    chosen: list[SegmentRow] = []
    total = 0
    if need_bytes <= 0:
        return chosen
    async with contextlib.aclosing(_oldest_first(engine, segments.c.pool == pool)) as pages:
        async for rows in pages:
            for row in rows:
                if wanted(row):
                    chosen.append(row)
                    total += row.size_bytes
                    if total >= need_bytes:
                        return chosen
    return chosen


async def _enforce_pool(
    engine: AsyncEngine,
    pool: StoragePool,
    pool_dirs: dict[str, Path],
    settings: RecordingSettings,
    policy: dict[str, ChannelRetention],
    unknown: ChannelRetention,
    locks: LockedRanges,
    now: datetime,
    state: PoolFullState,
    free_of: DiskFree,
    report: RetentionReport,
) -> None:
    over, capacity = await _over_bytes(engine, pool, settings.min_free_bytes, free_of)
    margin = int(capacity * CLEAR_MARGIN_FRACTION)
    if over > 0:

        def outside_guarantee(row: SegmentRow) -> bool:
            days = policy.get(row.channel_id, unknown).guarantee_days
            guarded_from = now - timedelta(days=days)
            return row.end_at <= guarded_from and not is_locked(
                locks, row.channel_id, row.start_at, row.end_at
            )

        doomed = await _oldest(engine, pool.name, over, outside_guarantee)
        report.bytes_freed += await delete_segments(
            engine, pool_dirs, doomed, "quota", fsync=settings.fsync
        )
        report.quota_segments += len(doomed)
        over, capacity = await _over_bytes(engine, pool, settings.min_free_bytes, free_of)
    if over <= -margin or (over <= 0 and not state.pool_full(pool.name)):
        # Within limits: a closed pool reopens only with a margin, so it does not flap.
        state.set_full(pool.name, False)
        if over <= -margin:
            async with engine.begin() as conn:
                if await clear_alarm(conn, STORAGE_FULL, pool.name, now=now):
                    report.alarms_cleared.append(pool.name)
        return
    if over <= 0:
        return  # closed, not yet below the margin: stay closed, alarm stays open

    def unlocked(row: SegmentRow) -> bool:
        return not is_locked(locks, row.channel_id, row.start_at, row.end_at)

    at_stake = await _oldest(engine, pool.name, over, unlocked)
    stake = stake_by_channel(at_stake, policy, unknown)
    if settings.full_policy == "overwrite" and at_stake:
        report.bytes_freed += await delete_segments(
            engine, pool_dirs, at_stake, "quota_in_guarantee", fsync=settings.fsync
        )
        report.guaranteed_segments += len(at_stake)
        async with engine.begin() as conn:
            for s in stake:
                detail = {"pool": pool.name, "end": s.end_at.isoformat(), "bytes": s.size_bytes}
                await events.add_event(
                    conn,
                    s.channel_id,
                    events.PURGED_IN_GUARANTEE,
                    json.dumps(detail),
                    at=s.start_at,
                )
        over, _ = await _over_bytes(engine, pool, settings.min_free_bytes, free_of)
        state.set_full(pool.name, over > 0)  # only locked footage left: nothing more to do
    else:
        state.set_full(pool.name, True)
    policy_name = settings.full_policy if at_stake else "stop"
    async with engine.begin() as conn:
        _, new = await raise_alarm(
            conn,
            kind=STORAGE_FULL,
            source=pool.name,
            severity="critical",
            message=storage_alarm_text(pool.name, policy_name, stake),
            detail={
                "pool": pool.name,
                "policy": settings.full_policy,
                "channels": stake_json(stake),
            },
            now=now,
        )
    if new:
        report.alarms_raised.append(pool.name)
    logger.warning("storage pool %s full (policy %s)", pool.name, settings.full_policy)


async def run_retention_pass(
    engine: AsyncEngine,
    pools: Sequence[StoragePool],
    settings: RecordingSettings,
    retention: RetentionSettings,
    *,
    now: datetime,
    state: PoolFullState,
    free_of: DiskFree = disk_free,
) -> RetentionReport:
    """One pass over every channel and pool; see the module docstring."""
    report = RetentionReport()
    pool_dirs = {p.name: p.path for p in pools}
    async with engine.connect() as conn:
        policy = await _retention_by_channel(conn, retention)
        locks = await active_lock_ranges(conn, now)
    unknown = channel_retention(None, None, retention)
    await _purge_aged(engine, pool_dirs, policy, unknown, locks, now, settings.fsync, report)
    for pool in pools:
        await _enforce_pool(
            engine,
            pool,
            pool_dirs,
            settings,
            policy,
            unknown,
            locks,
            now,
            state,
            free_of,
            report,
        )
    report.full_pools = sorted(state.full_pools)
    return report
