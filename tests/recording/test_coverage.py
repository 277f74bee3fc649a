"""Coverage per local day, gap causes and the class guarantee, on synthetic hourly segments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.synthetic_segments import add_segment
from vigil.recording import events
from vigil.recording.coverage import (
    ChannelCoverage,
    CoverageSubject,
    channel_coverage,
    guarantee_summary,
    local_day_bounds,
)
from vigil.settings import RetentionSettings

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 local
HOUR = timedelta(hours=1)
OFFLINE_AT = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 local on the 18th
UNSCHEDULED_AT = datetime(2026, 11, 19, 0, 0, tzinfo=UTC)  # 08:00 local on the 19th
SHORT_AT = datetime(2026, 11, 19, 6, 0, tzinfo=UTC)


def subject(channel_id: str, point_class: int) -> CoverageSubject:
    return CoverageSubject(channel_id, f"point {channel_id[-2:]}", "340202", None, point_class)


async def record_hours(
    engine: AsyncEngine,
    pool: Path,
    channel_id: str,
    *,
    days: int,
    skip: tuple[datetime, ...] = (),
    short: tuple[datetime, ...] = (),
) -> None:
    start = NOW - timedelta(days=days)
    for k in range(days * 24):
        begins = start + k * HOUR
        if begins in skip:
            continue
        duration = 3570.0 if begins in short else 3600.0
        await add_segment(engine, pool, channel_id, begins, duration_s=duration)


async def coverage_of(engine: AsyncEngine, item: CoverageSubject, days: int = 3) -> ChannelCoverage:
    return await channel_coverage(
        engine,
        item,
        last_day=date(2026, 11, 20),
        days=days,
        tz=TZ,
        now=NOW,
        retention=RetentionSettings(),
        open_allowance_s=120.0,
    )


def test_local_days_follow_the_zone() -> None:
    start, end = local_day_bounds(date(2026, 11, 20), TZ)
    assert start == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert end - start == timedelta(days=1)


async def test_days_gaps_causes_and_guarantee(engine: AsyncEngine, tmp_path: Path) -> None:
    broken = subject("34020200001310000001", 2)
    await record_hours(
        engine, tmp_path, broken.channel_id, days=16, skip=(OFFLINE_AT, UNSCHEDULED_AT)
    )
    async with engine.begin() as conn:
        await events.add_event(conn, broken.channel_id, events.DEVICE_OFFLINE, at=OFFLINE_AT)
        await events.add_event(conn, broken.channel_id, events.NOT_SCHEDULED, at=UNSCHEDULED_AT)
    result = await coverage_of(engine, broken)
    assert [d.day for d in result.days] == [
        date(2026, 11, 18),
        date(2026, 11, 19),
        date(2026, 11, 20),
    ]
    day18, day19, day20 = result.days
    assert day18.recorded_s == 23 * 3600
    assert day18.expected_s == 24 * 3600
    assert day18.availability_pct == round(100 * 23 / 24, 2)
    assert [(g.start_at, g.end_at, g.cause) for g in day18.gaps] == [
        (OFFLINE_AT, OFFLINE_AT + HOUR, events.DEVICE_OFFLINE)
    ]
    # A gap the schedule asked for is not counted against availability.
    assert day19.recorded_s == day19.expected_s == 23 * 3600
    assert day19.availability_pct == 100.0
    assert [g.cause for g in day19.gaps] == [events.NOT_SCHEDULED]
    # Today counts up to now: 12 hours.
    assert day20.recorded_s == day20.expected_s == 12 * 3600
    assert result.guarantee_days == 15
    assert result.meets_guarantee is False
    assert [(g.start_at, g.cause) for g in result.breaking_gaps] == [
        (OFFLINE_AT, events.DEVICE_OFFLINE)
    ]


async def test_guarantee_summary_counts_classes_1_and_2(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    good = subject("34020200001310000002", 2)
    await record_hours(
        engine, tmp_path, good.channel_id, days=16, skip=(UNSCHEDULED_AT,), short=(SHORT_AT,)
    )
    async with engine.begin() as conn:
        await events.add_event(conn, good.channel_id, events.NOT_SCHEDULED, at=UNSCHEDULED_AT)
    young = subject("34020200001310000003", 1)  # 30-day guarantee, 16 days recorded
    await record_hours(engine, tmp_path, young.channel_id, days=16)
    local = subject("34020200001310000004", 3)
    await record_hours(engine, tmp_path, local.channel_id, days=1)
    good_result = await coverage_of(engine, good, days=1)
    assert good_result.meets_guarantee is True  # a 30 s join and an unscheduled hour only
    young_result = await coverage_of(engine, young, days=1)
    assert young_result.meets_guarantee is False
    assert young_result.breaking_gaps[0].cause == "unknown"
    assert (await coverage_of(engine, local, days=1)).meets_guarantee is None
    summary = await guarantee_summary(
        engine,
        [good, young, local],
        now=NOW,
        retention=RetentionSettings(),
        open_allowance_s=120.0,
        tz=TZ,
    )
    assert (summary.meeting, summary.total, summary.rate_pct) == (1, 2, 50.0)


async def test_open_segment_allowance_and_tolerance(engine: AsyncEngine, tmp_path: Path) -> None:
    item = subject("34020200001310000005", 2)
    # Segments reach now: the allowance covers the segment still being written.
    await record_hours(engine, tmp_path, item.channel_id, days=16)
    result = await coverage_of(engine, item, days=1)
    assert result.meets_guarantee is True
    late = await channel_coverage(
        engine,
        item,
        last_day=date(2026, 11, 20),
        days=1,
        tz=TZ,
        now=NOW + timedelta(minutes=5),
        retention=RetentionSettings(),
        open_allowance_s=120.0,
    )
    assert late.meets_guarantee is False  # 3 minutes without a segment, nothing open
