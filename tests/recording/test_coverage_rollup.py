"""The daily coverage roll-up gives the same report as computing every day from segments.

Fixtures: 10-minute segments over five weeks with gaps across midnight (one whose cause is
only found after midnight, one of 70 s split 30 + 40 by midnight, a sub-second join across
midnight), an unscheduled night, a day without any recording, a channel that starts in the
middle of the report and one that never recorded. Each report is computed three ways —
without the roll-up, with it cold (days computed and stored), with it warm (days read) —
and against the former computation (one timeline over the whole range).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.synthetic_segments import add_segment
from vigil.db.tables import coverage_days, coverage_marks, segments
from vigil.recording import events
from vigil.recording.coverage import (
    GUARANTEE_GAP_TOLERANCE_S,
    ChannelCoverage,
    CoverageSubject,
    DayCoverage,
    coverage_of_channels,
    guarantee_days_for,
    guarantee_summary,
    local_day_bounds,
    report_days,
)
from vigil.recording.coverage_days import compute_views, marks, store_views
from vigil.recording.coverage_invalidation import invalidate_coverage
from vigil.recording.fragment_table import FragmentEntry, pack_fragments
from vigil.recording.garbage import delete_segments
from vigil.recording.index import NewSegment, ensure_video_params, index_segments, segments_between
from vigil.recording.reconcile import reconcile
from vigil.recording.timeline import Gap, load_timeline, recorded_intervals
from vigil.settings import RetentionSettings, StoragePool

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 local on the 20th
STEP = timedelta(minutes=10)
RETENTION = RetentionSettings()
ALLOWANCE_S = 120.0


def local(day: int, hour: int, minute: int = 0, second: float = 0.0) -> datetime:
    at = datetime(2026, 11, day, hour, minute, tzinfo=TZ) + timedelta(seconds=second)
    return at.astimezone(UTC)


CROSS = CoverageSubject("34020200001310000011", "cross", "340202", None, 1)
LATE = CoverageSubject("34020200001310000012", "late start", "340202", None, 1)
NEVER = CoverageSubject("34020200001310000013", "never", "340202", None, 2)
LOCAL = CoverageSubject("34020200001310000014", "local", "340202", None, 3)
SUBJECTS = (CROSS, LATE, NEVER, LOCAL)

# Gaps of CROSS: [start, end) and the events around them.
LOST = (local(15, 23, 40), local(16, 0, 25))  # cause found after midnight only
SPLIT = (local(12, 23, 59, 30), local(13, 0, 0, 40))  # 70 s: breaks only as one gap
NIGHT = (local(17, 20), local(18, 8))  # not scheduled
DARK = (local(13, 23, 50), local(15, 0, 10))  # a whole day without recording
JOIN_AT = local(10, 0)  # segments meet 0.9 s apart across midnight: no gap
CROSS_EVENTS = (
    (local(15, 23, 40, 5), events.STREAM_LOST),  # inside the gap, 5 s after it began
    (local(16, 0, 1), events.DEVICE_OFFLINE),  # later and after midnight: not the cause
    (NIGHT[0], events.NOT_SCHEDULED),
    (local(13, 23, 50, 2), events.DEVICE_OFFLINE),
    # Inside the dark gap but not its cause; the 15th alone would take it (its context
    # opens inside the gap and looks back to the last event).
    (local(14, 12), events.STREAM_LOST),
    (local(18, 8), events.STARTED),
)


def _windows(
    start: datetime, end: datetime, holes: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """10-minute segments from start to end, leaving the holes out (cut at their edges)."""
    out = []
    at = start
    while at < end:
        stop = min(at + STEP, end)
        pieces = [(at, stop)]
        for lo, hi in holes:
            pieces = [
                part
                for a, b in pieces
                for part in ((a, min(b, lo)), (max(a, hi), b))
                if part[0] < part[1]
            ]
        out += pieces
        at = stop
    return out


async def insert_rows(
    engine: AsyncEngine, channel_id: str, spans: list[tuple[datetime, datetime]]
) -> None:
    """Segment rows in bulk (coverage reads only times; the files are not needed here)."""
    async with engine.begin() as conn:
        params = await ensure_video_params(
            conn, codec="h264", rfc6381_codec="avc1.42c01f", width=64, height=48, init_segment=b"i"
        )
        rows: list[dict[str, Any]] = []
        for n, (start, end) in enumerate(spans):
            ticks = round((end - start).total_seconds() * 90_000)
            rows.append(
                {
                    "channel_id": channel_id,
                    "pool": "default",
                    "path": f"{channel_id}/{n}.mp4",
                    "run_id": 1,
                    "start_at": start,
                    "end_at": end,
                    "start_90k": 0,
                    "duration_90k": ticks,
                    "size_bytes": 1000,
                    "init_size_bytes": 10,
                    "frames": 25,
                    "params_id": params,
                    "sha256": "0" * 64,
                    "fragments": pack_fragments((FragmentEntry(10, 990, 0, ticks, 25),)),
                    "recovered": False,
                }
            )
        await conn.execute(segments.insert(), rows)


async def build_fixture(engine: AsyncEngine) -> None:
    begin = NOW - timedelta(days=36)
    holes = [
        LOST,
        SPLIT,
        NIGHT,
        DARK,
        (JOIN_AT - timedelta(seconds=0.5), JOIN_AT + timedelta(seconds=0.4)),
    ]
    await insert_rows(engine, CROSS.channel_id, _windows(begin, NOW - timedelta(seconds=30), holes))
    await insert_rows(
        engine, LATE.channel_id, _windows(local(17, 10), NOW - timedelta(minutes=1), [])
    )
    await insert_rows(engine, LOCAL.channel_id, _windows(local(19, 0), local(19, 6), []))
    async with engine.begin() as conn:
        for at, kind in CROSS_EVENTS:
            await events.add_event(conn, CROSS.channel_id, kind, at=at)
    async with engine.begin() as conn:  # the fixture is the data, not an invalidation
        await conn.execute(coverage_days.delete())


async def report(
    engine: AsyncEngine, *, rollup: bool, days: int = 7, now: datetime = NOW
) -> list[ChannelCoverage]:
    return await coverage_of_channels(
        engine,
        SUBJECTS,
        last_day=now.astimezone(TZ).date(),
        days=days,
        tz=TZ,
        now=now,
        retention=RETENTION,
        open_allowance_s=ALLOWANCE_S,
        rollup=rollup,
    )


def _clip(gap: Gap, start: datetime, end: datetime) -> Gap | None:
    lo, hi = max(gap.start_at, start), min(gap.end_at, end)
    return Gap(lo, hi, gap.cause) if lo < hi else None


async def former(engine: AsyncEngine, subject: CoverageSubject, days: int) -> ChannelCoverage:
    """The computation before the roll-up: one timeline over the whole range."""
    guarantee = guarantee_days_for(subject.point_class, RETENTION)
    last_day = NOW.astimezone(TZ).date()
    window_end = NOW - timedelta(seconds=ALLOWANCE_S)
    window_start = window_end - timedelta(days=guarantee)
    first_start, _ = local_day_bounds(report_days(last_day, days)[0], TZ)
    start = min([first_start, *([window_start] if guarantee else [])])
    intervals = await recorded_intervals(engine, subject.channel_id, start, NOW)
    timeline = await load_timeline(engine, subject.channel_id, start, NOW, intervals)
    cells = []
    for day in report_days(last_day, days):
        lo, hi = local_day_bounds(day, TZ)
        hi = min(hi, NOW)
        recorded = sum(
            (min(s.end_at, hi) - max(s.start_at, lo)).total_seconds()
            for s in timeline.spans
            if s.start_at < hi and s.end_at > lo
        )
        gaps = tuple(g for g in (_clip(x, lo, hi) for x in timeline.gaps) if g is not None)
        unscheduled = sum(g.duration_s for g in gaps if g.cause == events.NOT_SCHEDULED)
        expected = (hi - lo).total_seconds() - unscheduled
        cells.append(DayCoverage(day, round(recorded, 3), round(expected, 3), gaps))
    breaks: tuple[Gap, ...] = ()
    if guarantee:
        clipped = (_clip(g, window_start, window_end) for g in timeline.gaps)
        breaks = tuple(
            g
            for g in clipped
            if g is not None
            and g.cause != events.NOT_SCHEDULED
            and g.duration_s > GUARANTEE_GAP_TOLERANCE_S
        )
    meets = (not breaks) if guarantee else None
    return ChannelCoverage(subject, guarantee, meets, breaks, tuple(cells))


async def stored_days(engine: AsyncEngine, channel_id: str) -> set[date]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(coverage_days.c.day).where(coverage_days.c.channel_id == channel_id)
        )
        return {r.day for r in rows}


async def test_roll_up_gives_the_same_report(engine: AsyncEngine) -> None:
    await build_fixture(engine)
    plain = await report(engine, rollup=False)
    assert await stored_days(engine, CROSS.channel_id) == set()  # nothing read or written
    cold = await report(engine, rollup=True)
    stored = await stored_days(engine, CROSS.channel_id)
    warm = await report(engine, rollup=True)
    assert plain == cold == warm
    assert [await former(engine, s, 7) for s in SUBJECTS] == plain
    # Class 1 judges 30 days: 31 days are read. Today is never stored.
    assert date(2026, 11, 20) not in stored
    assert {date(2026, 10, 21), date(2026, 11, 19)} <= stored

    cross, late, never, local_point = plain
    by_day = {d.day: d for d in cross.days}
    # Both halves of a gap across midnight name the cause found where it began.
    assert [g.cause for g in by_day[date(2026, 11, 16)].gaps] == [events.STREAM_LOST]
    assert [g.cause for g in by_day[date(2026, 11, 15)].gaps] == [
        events.DEVICE_OFFLINE,
        events.STREAM_LOST,
    ]
    assert by_day[date(2026, 11, 18)].expected_s == 16 * 3600  # 8 unscheduled hours
    assert by_day[date(2026, 11, 14)].recorded_s == 0
    assert cross.meets_guarantee is False
    assert [(g.start_at, g.end_at) for g in cross.breaking_gaps] == [SPLIT, DARK, LOST]
    assert late.meets_guarantee is False
    assert late.breaking_gaps[0].cause == "unknown"
    assert (late.days[0].recorded_s, late.days[3].recorded_s) == (0, 14 * 3600)
    assert never.meets_guarantee is False
    assert local_point.meets_guarantee is None

    for days in (1, 31):
        assert await report(engine, rollup=True, days=days) == await report(
            engine, rollup=False, days=days
        )
    for rollup in (False, True):
        summary = await guarantee_summary(
            engine,
            SUBJECTS,
            now=NOW,
            retention=RETENTION,
            open_allowance_s=ALLOWANCE_S,
            tz=TZ,
            rollup=rollup,
        )
        assert (summary.meeting, summary.total) == (0, 3)


async def test_changes_to_a_closed_day_drop_its_roll_up(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await build_fixture(engine)
    await report(engine, rollup=True)
    day16 = date(2026, 11, 16)
    assert day16 in await stored_days(engine, CROSS.channel_id)

    # A late insert into the gap after midnight of the 16th (recovered by hand, say).
    async with engine.begin() as conn:
        params = await ensure_video_params(
            conn, codec="h264", rfc6381_codec="avc1.42c01f", width=64, height=48, init_segment=b"i"
        )
    late = NewSegment(
        channel_id=CROSS.channel_id,
        pool="default",
        path="late.mp4",
        run_id=2,
        start_at=local(16, 0, 10),
        end_at=local(16, 0, 20),
        start_90k=0,
        duration_90k=900_000,
        size_bytes=1000,
        init_size_bytes=10,
        frames=25,
        params_id=params,
        sha256="0" * 64,
        fragments=(FragmentEntry(10, 990, 0, 900_000, 25),),
    )
    (row,) = await index_segments(engine, [late])
    left = await stored_days(engine, CROSS.channel_id)
    # The 16th and the 15th (whose context reaches 01:00 on the 16th) are dropped, no more.
    assert not {day16, date(2026, 11, 15)} & left
    assert {date(2026, 11, 14), date(2026, 11, 17)} <= left
    assert await report(engine, rollup=True) == await report(engine, rollup=False)
    assert day16 in await stored_days(engine, CROSS.channel_id)

    # Deleting it again (garbage) drops them too; the report matches once more.
    await delete_segments(engine, {"default": tmp_path}, [await _row(engine, row.id)], "test")
    assert day16 not in await stored_days(engine, CROSS.channel_id)
    assert await report(engine, rollup=True) == await report(engine, rollup=False)

    # A back-dated event in the long dark gap: its days and later days opening in a gap.
    await report(engine, rollup=True)
    async with engine.begin() as conn:
        await events.add_event(conn, CROSS.channel_id, events.DISK_FULL, at=local(14, 13))
    left = await stored_days(engine, CROSS.channel_id)
    assert not {date(2026, 11, 14), date(2026, 11, 15)} & left
    assert {date(2026, 11, 13), date(2026, 11, 16), date(2026, 11, 17)} <= left
    assert await report(engine, rollup=True) == await report(engine, rollup=False)


async def _row(engine: AsyncEngine, segment_id: int) -> Any:
    rows = await segments_between(engine, CROSS.channel_id, local(16, 0, 10), local(16, 0, 20))
    (found,) = [r for r in rows if r.id == segment_id]
    return found


def _remove_files(pool: Path) -> None:
    for file in pool.rglob("*.mp4"):
        file.unlink()


async def test_reconciliation_drops_the_days_it_changes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await build_fixture(engine)
    await add_segment(engine, tmp_path, NEVER.channel_id, local(16, 9), duration_s=600)
    await report(engine, rollup=True)
    assert date(2026, 11, 16) in await stored_days(engine, NEVER.channel_id)
    await asyncio.to_thread(_remove_files, tmp_path)  # reconciliation removes the row
    await reconcile(engine, [StoragePool(name="default", path=tmp_path)], fsync=False)
    assert date(2026, 11, 16) not in await stored_days(engine, NEVER.channel_id)
    assert await report(engine, rollup=True) == await report(engine, rollup=False)


async def test_fresh_segments_and_events_do_not_touch_the_roll_up(engine: AsyncEngine) -> None:
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await invalidate_coverage(conn, [(CROSS.channel_id, now - timedelta(seconds=60), now)])
        await events.add_event(conn, CROSS.channel_id, events.STREAM_LOST)
        generation = await conn.scalar(sa.select(sa.func.count()).select_from(coverage_marks))
    assert generation == 0  # nothing was old enough to reach a stored day


async def test_a_racing_invalidation_keeps_computed_days_out(engine: AsyncEngine) -> None:
    await build_fixture(engine)
    day = date(2026, 11, 16)
    generations = await marks(engine, [CROSS.channel_id])
    views = await compute_views(engine, CROSS.channel_id, [day], TZ, NOW)
    async with engine.begin() as conn:  # a purge commits while the report computes
        await invalidate_coverage(conn, [(CROSS.channel_id, local(16, 3), local(16, 4))])
    assert await store_views(engine, views, generations, TZ, NOW) == 0
    assert await stored_days(engine, CROSS.channel_id) == set()
    assert await store_views(engine, views, await marks(engine, [CROSS.channel_id]), TZ, NOW) == 1
