"""Spans and gaps of a channel's recordings, and the causes the events give the gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.synthetic_segments import add_run, add_segment
from vigil.recording import events
from vigil.recording.timeline import Gap, Span, build_timeline, channel_recordings, merge_spans

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
CH = "34020200001310000001"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_segments_within_tolerance_merge() -> None:
    intervals = [
        (at(1), at(2)),
        (at(0), at(1)),  # any order
        (at(2) + timedelta(seconds=1.2), at(3)),  # a 1.2 s join: still one span
        (at(3) + timedelta(seconds=2), at(4)),  # 2 s: a new span
        (at(3.5), at(3.9)),  # overlapping: absorbed
    ]
    assert merge_spans(intervals) == [
        Span(at(0), at(3)),
        Span(at(3) + timedelta(seconds=2), at(4)),
    ]


def test_gaps_are_clipped_to_the_range_and_take_causes() -> None:
    intervals = [(at(0), at(10)), (at(20), at(30)), (at(40), at(50))]
    causes = [
        (at(-100), events.DEVICE_OFFLINE),  # before a span began: stale
        (at(9), events.STARTED),  # not a cause: ignored
        (at(10) + timedelta(seconds=10), events.STREAM_LOST),  # detected inside the gap
        (at(29), events.NOT_SCHEDULED),  # logged as recording stopped
        (at(31), events.DEVICE_OFFLINE),  # later event inside the same gap: the first wins
    ]
    timeline = build_timeline(intervals, causes, at(5), at(60))
    assert timeline.spans == (Span(at(5), at(10)), Span(at(20), at(30)), Span(at(40), at(50)))
    assert timeline.gaps == (
        Gap(at(10), at(20), events.STREAM_LOST),
        Gap(at(30), at(40), events.NOT_SCHEDULED),
        Gap(at(50), at(60), "unknown"),
    )
    assert timeline.recorded_s == 25 * 60


def test_a_gap_at_the_range_start_looks_back() -> None:
    timeline = build_timeline([(at(30), at(40))], [(at(-60), events.DISK_FULL)], at(0), at(40))
    assert timeline.gaps == (Gap(at(0), at(30), events.DISK_FULL),)
    empty = build_timeline([], [], at(0), at(10))
    assert empty.spans == ()
    assert empty.gaps == (Gap(at(0), at(10), "unknown"),)


def test_purged_footage_is_explained_by_the_event_at_its_start() -> None:
    timeline = build_timeline(
        [(at(30), at(40))], [(at(10), events.PURGED_IN_GUARANTEE)], at(0), at(40)
    )
    assert timeline.gaps == (Gap(at(0), at(30), events.PURGED_IN_GUARANTEE),)


async def test_channel_recordings_reads_rows_and_events(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await add_run(engine, tmp_path, CH, at(0), 3)
    await add_segment(engine, tmp_path, CH, at(5), duration_s=120)
    await add_segment(engine, tmp_path, "34020200001310000002", at(3))  # another channel
    async with engine.begin() as conn:
        await events.add_event(conn, CH, events.DEVICE_OFFLINE, at=at(3))
        await events.add_event(conn, CH, events.STARTED, at=at(5))
    rows, timeline = await channel_recordings(engine, CH, at(1), at(10))
    assert [r.start_at for r in rows] == [at(1), at(2), at(5)]  # at(0) ends where it starts
    assert timeline.spans == (Span(at(1), at(3)), Span(at(5), at(7)))
    assert timeline.gaps == (
        Gap(at(3), at(5), events.DEVICE_OFFLINE),
        Gap(at(7), at(10), "unknown"),
    )
