"""Coverage of one channel's local day, computed from segments or read from ``coverage_days``.

A day is judged from its **context**: the segments and cause events of the day and
:data:`CONTEXT` on each side (cut at now), through ``timeline.build_timeline``. Cut to the
day, that gives the recorded seconds and the gaps; the gaps are kept as far as the context
sees them, so a gap across midnight appears in both days and ``coverage`` joins the two.
Because the context is fixed, a day's result depends on nothing outside it (except, for a
context that opens inside a gap, the last cause event before it) and can be stored.

A day is stored once its context has ended at least
``coverage_invalidation.SETTLED_AFTER_S`` (and the open-segment allowance) before now;
later days are computed on every request. Rows are written only if the channel's counter
in ``coverage_marks`` has not moved since the segments were read, checked under a lock on
the counter row, so an invalidation racing the computation wins.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import coverage_days, coverage_marks, segments
from vigil.recording import events
from vigil.recording.coverage_invalidation import SETTLED_AFTER_S, upsert
from vigil.recording.timeline import Gap, Interval, build_timeline, cause_events

CONTEXT = timedelta(hours=1)
# Segments are cut every ``segment_duration_s`` (at most 600 s) at a keyframe. Bounding how
# long one may be lets the (channel_id, start_at) index bound the read from below too;
# without it, reading today would walk every older row of the channel.
LONGEST_SEGMENT = timedelta(hours=2)
_US = timedelta(microseconds=1)
_CHUNK = 400  # channel ids per IN list (SQLite's bound-parameter limit)


def local_day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The [start, end) of a local calendar day as aware datetimes."""
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start, end


@dataclass(frozen=True, slots=True)
class DayView:
    """A day as its context sees it."""

    channel_id: str
    day: date
    recorded_s: float
    gaps: tuple[Gap, ...]  # gaps overlapping the day's elapsed part, not cut at midnight
    context_from: datetime
    context_to: datetime
    leads_with_gap: bool  # the context opens inside a gap


async def recorded_intervals(
    engine: AsyncEngine, channel_id: str, start: datetime, end: datetime
) -> list[Interval]:
    """[start, end) of the channel's segments overlapping the range, oldest first."""
    s = segments.c
    raw = engine.dialect.name == "sqlite"
    # SQLite keeps naive UTC text; parsing it here is several times cheaper per row than
    # the column type's result processing, and this is the per-request read of today.
    columns = (sa.type_coerce(s.start_at, sa.String), sa.type_coerce(s.end_at, sa.String))
    query = (
        sa.select(*columns if raw else (s.start_at, s.end_at))
        .where(
            s.channel_id == channel_id,
            s.start_at >= start - LONGEST_SEGMENT,
            s.start_at < end,
            s.end_at > start,
        )
        .order_by(s.start_at, s.id)
    )
    async with engine.connect() as conn:
        rows = await conn.execute(query)
        if not raw:
            return [(a, b) for a, b in rows]
        parse = datetime.fromisoformat
        return [(parse(a + "+00:00"), parse(b + "+00:00")) for a, b in rows]


def is_settled(day: date, tz: tzinfo, now: datetime, open_allowance_s: float) -> bool:
    """May the day be stored: its context ended long enough ago to be final."""
    _, end = local_day_bounds(day, tz)
    margin = timedelta(seconds=max(SETTLED_AFTER_S, open_allowance_s))
    return end + CONTEXT <= now - margin


def _empty(channel_id: str, day: date, start: datetime) -> DayView:
    return DayView(channel_id, day, 0.0, (), start, start, False)


async def compute_views(
    engine: AsyncEngine, channel_id: str, days: Sequence[date], tz: tzinfo, now: datetime
) -> list[DayView]:
    """Views of consecutive ``days`` from one read of their segments and events."""
    bounds = []
    for day in days:
        start, full_end = local_day_bounds(day, tz)
        bounds.append(
            (day, start, min(full_end, now), start - CONTEXT, min(full_end + CONTEXT, now))
        )
    elapsed = [b for b in bounds if b[2] > b[1]]
    if not elapsed:
        return [_empty(channel_id, day, start) for day, start, *_ in bounds]
    lo_all = min(b[3] for b in elapsed)
    hi_all = max(b[4] for b in elapsed)
    intervals = await recorded_intervals(engine, channel_id, lo_all, hi_all)
    since_all = min([lo_all, *(a for a, _ in intervals[:1])])
    events = await cause_events(engine, channel_id, since_all, hi_all)
    starts = [a for a, _ in intervals]
    longest = max((b - a for a, b in intervals), default=timedelta(0))
    event_times = [at for at, _ in events]
    views = []
    for day, start, end, lo, hi in bounds:
        if end <= start:
            views.append(_empty(channel_id, day, start))
            continue
        # The same rows and events a timeline of [lo, hi) alone would read (load_timeline).
        first, last = bisect_left(starts, lo - longest), bisect_left(starts, hi)
        own = [iv for iv in intervals[first:last] if iv[1] > lo]
        since = min([lo, *(a for a, _ in own[:1])])
        k = bisect_left(event_times, since)
        own_events = events[max(k - 1, 0) : bisect_left(event_times, hi)]
        timeline = build_timeline(own, own_events, lo, hi)
        recorded = sum(
            (min(s.end_at, end) - max(s.start_at, start)).total_seconds()
            for s in timeline.spans
            if s.start_at < end and s.end_at > start
        )
        gaps = tuple(g for g in timeline.gaps if g.start_at < end and g.end_at > start)
        leads = bool(timeline.gaps) and timeline.gaps[0].start_at == lo
        views.append(DayView(channel_id, day, round(recorded, 3), gaps, lo, hi, leads))
    return views


def _row(view: DayView, tz: tzinfo, tz_name: str, computed_at: datetime) -> dict[str, Any]:
    start, end = local_day_bounds(view.day, tz)
    clipped = [min(g.end_at, end) - max(g.start_at, start) for g in view.gaps]
    # The row's own causes: informative only, coverage re-derives them across days.
    unscheduled = sum(
        c.total_seconds()
        for c, g in zip(clipped, view.gaps, strict=True)
        if g.cause == events.NOT_SCHEDULED
    )
    return {
        "channel_id": view.channel_id,
        "day": view.day,
        "timezone": tz_name,
        "recorded_s": view.recorded_s,
        "expected_s": round((end - start).total_seconds() - unscheduled, 3),
        "longest_gap_s": max((c.total_seconds() for c in clipped), default=0.0),
        "gap_count": len(clipped),
        "gaps": [
            [(g.start_at - start) // _US, (g.end_at - start) // _US, g.cause] for g in view.gaps
        ],
        "context_from": view.context_from,
        "context_to": view.context_to,
        "leads_with_gap": view.leads_with_gap,
        "computed_at": computed_at,
    }


def _view(row: Any, tz: tzinfo) -> DayView:
    start, _ = local_day_bounds(row.day, tz)
    gaps = tuple(
        Gap(
            (start + a * _US).astimezone(UTC),
            (start + b * _US).astimezone(UTC),
            str(cause),
        )
        for a, b, cause in row.gaps
    )
    return DayView(
        str(row.channel_id),
        row.day,
        float(row.recorded_s),
        gaps,
        row.context_from,
        row.context_to,
        bool(row.leads_with_gap),
    )


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


async def stored_views(
    engine: AsyncEngine,
    channel_ids: Sequence[str],
    first: date,
    last: date,
    tz: tzinfo,
) -> dict[tuple[str, date], DayView]:
    """Stored days of the channels in [first, last] cut in ``tz``."""
    d = coverage_days.c
    found: dict[tuple[str, date], DayView] = {}
    async with engine.connect() as conn:
        for chunk in _chunks(channel_ids):
            rows = await conn.execute(
                sa.select(coverage_days).where(
                    d.channel_id.in_(chunk),
                    d.day >= first,
                    d.day <= last,
                    d.timezone == str(tz),
                )
            )
            for row in rows:
                view = _view(row, tz)
                found[(view.channel_id, view.day)] = view
    return found


async def marks(engine: AsyncEngine, channel_ids: Sequence[str]) -> dict[str, int]:
    """The channels' invalidation counters, creating missing ones (read before segments)."""
    m = coverage_marks.c
    found: dict[str, int] = {}
    async with engine.begin() as conn:
        for chunk in _chunks(channel_ids):
            insert = upsert(conn, coverage_marks).on_conflict_do_nothing(
                index_elements=["channel_id"]
            )
            await conn.execute(insert, [{"channel_id": c, "generation": 0} for c in chunk])
    async with engine.connect() as conn:
        for chunk in _chunks(channel_ids):
            rows = await conn.execute(
                sa.select(m.channel_id, m.generation).where(m.channel_id.in_(chunk))
            )
            found.update((str(c), int(g)) for c, g in rows)
    return found


async def store_views(
    engine: AsyncEngine,
    views: Sequence[DayView],
    generations: dict[str, int],
    tz: tzinfo,
    now: datetime,
) -> int:
    """Upsert settled views whose channel's counter has not moved; returns rows written."""
    if not views:
        return 0
    m = coverage_marks.c
    channel_ids = sorted({v.channel_id for v in views})
    async with engine.begin() as conn:
        current: dict[str, int] = {}
        for chunk in _chunks(channel_ids):
            locked = sa.select(m.channel_id, m.generation).where(m.channel_id.in_(chunk))
            if conn.dialect.name == "sqlite":
                # pysqlite opens the transaction at the first write: take the write lock
                # before reading the counters so no invalidation commits in between.
                await conn.execute(
                    coverage_marks.update()
                    .where(m.channel_id.in_(chunk))
                    .values(generation=m.generation)
                )
            else:
                locked = locked.with_for_update()
            current.update((str(c), int(g)) for c, g in await conn.execute(locked))
        rows = [
            _row(v, tz, str(tz), now)
            for v in views
            if v.channel_id in generations
            and current.get(v.channel_id) == generations[v.channel_id]
        ]
        if rows:
            insert = upsert(conn, coverage_days)
            columns = {c: insert.excluded[c] for c in rows[0] if c not in ("channel_id", "day")}
            await conn.execute(
                insert.on_conflict_do_update(index_elements=["channel_id", "day"], set_=columns),
                rows,
            )
    return len(rows)
