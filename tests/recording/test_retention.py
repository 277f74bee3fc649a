"""Retention passes on SQLite and PostgreSQL with synthetic rows and real files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.synthetic_segments import (
    add_channel,
    add_segment,
    assert_rows_match_files,
    segment_rows,
)
from vigil.db.tables import alarms, recording_events, recording_garbage
from vigil.recording.alarms import list_alarms
from vigil.recording.locks import create_lock, release_lock
from vigil.recording.pools import DiskFree
from vigil.recording.retention import (
    STORAGE_FULL,
    PoolFullState,
    RetentionReport,
    channel_retention,
    run_retention_pass,
)
from vigil.settings import RecordingSettings, RetentionSettings, StoragePool

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
A = "34020200001310000001"  # class 1
B = "34020200001310000002"  # class 2
C = "34020200001310000003"  # class 3
D = "34020200001310000004"  # class 2 with a 20-day override
GONE = "34020200001310000009"  # segments of a point no longer in the ledger
PLENTY = (10**12, 10**12)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def run(
    engine: AsyncEngine,
    pool: StoragePool,
    *,
    policy: str = "overwrite",
    state: PoolFullState | None = None,
    free_of: DiskFree = lambda _path: PLENTY,
    min_free_bytes: int = 0,
    now: datetime = NOW,
) -> RetentionReport:
    settings = RecordingSettings(
        fsync=False,
        min_free_bytes=min_free_bytes,
        full_policy=policy,
    )
    return await run_retention_pass(
        engine,
        [pool],
        settings,
        RetentionSettings(),
        now=now,
        state=state or PoolFullState(),
        free_of=free_of,
    )


async def ages_left(engine: AsyncEngine) -> dict[str, list[float]]:
    left: dict[str, list[float]] = {}
    for channel, _path, start in await segment_rows(engine):
        left.setdefault(channel, []).append(round((NOW - start) / timedelta(days=1), 1))
    return left


def test_channel_retention_never_below_class_minimum() -> None:
    retention = RetentionSettings()
    assert channel_retention(1, None, retention).keep_days == 30
    assert channel_retention(1, 5, retention).keep_days == 30  # stored below the floor
    assert channel_retention(1, 90, retention).keep_days == 90
    assert channel_retention(1, 90, retention).guarantee_days == 30
    assert channel_retention(2, None, retention).guarantee_days == 15
    assert channel_retention(3, None, retention).guarantee_days == 0
    assert channel_retention(None, None, retention).keep_days == 30


async def test_age_limits_follow_class_and_override(engine: AsyncEngine, tmp_path: Path) -> None:
    await add_channel(engine, A, 1)
    await add_channel(engine, B, 2)
    await add_channel(engine, C, 3)
    await add_channel(engine, D, 2, retention_days=20)
    ages = [40.0, 29.0, 19.0, 16.0, 14.0, 8.0, 6.0]
    for channel in (A, B, C, D, GONE):
        for age in ages:
            await add_segment(engine, tmp_path, channel, ago(age))
    report = await run(engine, StoragePool(name="default", path=tmp_path))
    assert await ages_left(engine) == {
        A: [29.0, 19.0, 16.0, 14.0, 8.0, 6.0],
        B: [14.0, 8.0, 6.0],
        C: [6.0],
        D: [19.0, 16.0, 14.0, 8.0, 6.0],
        GONE: [29.0, 19.0, 16.0, 14.0, 8.0, 6.0],
    }
    assert report.aged_segments == 1 + 4 + 6 + 2 + 1
    assert report.bytes_freed == 1000 * report.aged_segments
    await assert_rows_match_files(engine, tmp_path)
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(recording_garbage)) == 0


async def test_evidence_locks_exempt_while_active(engine: AsyncEngine, tmp_path: Path) -> None:
    await add_channel(engine, B, 2)
    for age in (25.0, 20.0, 18.0):
        await add_segment(engine, tmp_path, B, ago(age))
    async with engine.begin() as conn:
        kept = await create_lock(
            conn,
            channel_id=B,
            start_at=ago(20.0) + timedelta(seconds=30),  # overlapping part of a segment
            end_at=ago(20.0) + timedelta(seconds=40),
            reason="robbery case",
            case_number="2026-113",
            locked_by="duty",
            now=ago(1),
        )
        await create_lock(  # expired: no longer protects
            conn,
            channel_id=B,
            start_at=ago(25.5),
            end_at=ago(24.5),
            reason="old case",
            locked_by="duty",
            expires_at=NOW - timedelta(hours=1),
            now=ago(2),
        )
        released = await create_lock(
            conn, channel_id=B, start_at=ago(18.5), end_at=ago(17.5), reason="x", locked_by="d"
        )
        await release_lock(conn, released.id, "duty", now=ago(0.5))
    await run(engine, StoragePool(name="default", path=tmp_path))
    assert await ages_left(engine) == {B: [20.0]}
    await assert_rows_match_files(engine, tmp_path)
    async with engine.begin() as conn:
        await release_lock(conn, kept.id, "duty", now=NOW)
    await run(engine, StoragePool(name="default", path=tmp_path))
    assert await ages_left(engine) == {}


async def _mixed_pool(engine: AsyncEngine, tmp_path: Path) -> None:
    await add_channel(engine, A, 1, retention_days=60)
    await add_channel(engine, B, 2)
    await add_channel(engine, C, 3)
    for channel, age in ((A, 50.0), (A, 40.0), (A, 10.0), (A, 5.0), (C, 6.0), (C, 1.0), (B, 3.0)):
        await add_segment(engine, tmp_path, channel, ago(age))


async def test_quota_purges_oldest_outside_guarantees_first(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _mixed_pool(engine, tmp_path)
    report = await run(engine, StoragePool(name="default", path=tmp_path, quota_bytes=5000))
    assert report.quota_segments == 2
    assert await ages_left(engine) == {A: [10.0, 5.0], C: [6.0, 1.0], B: [3.0]}
    # Class-3 footage goes before older class-1 footage that is inside its 30 days.
    report = await run(engine, StoragePool(name="default", path=tmp_path, quota_bytes=3500))
    assert await ages_left(engine) == {A: [10.0, 5.0], B: [3.0]}
    assert report.guaranteed_segments == 0
    assert report.alarms_raised == []
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(alarms)) == 0
    await assert_rows_match_files(engine, tmp_path)


async def test_full_pool_overwrite_alarms_records_events_and_clears(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _mixed_pool(engine, tmp_path)
    state = PoolFullState()
    pool = StoragePool(name="default", path=tmp_path, quota_bytes=2000)
    report = await run(engine, pool, state=state)
    assert report.guaranteed_segments == 1
    assert await ages_left(engine) == {A: [5.0], B: [3.0]}
    assert report.alarms_raised == ["default"]
    assert not state.pool_full("default")
    async with engine.connect() as conn:
        open_alarms, total = await list_alarms(conn, open_only=True)
        events = (
            await conn.execute(
                sa.select(
                    recording_events.c.channel_id,
                    recording_events.c.at,
                    recording_events.c.kind,
                    recording_events.c.detail,
                )
            )
        ).all()
    assert total == 1
    alarm = open_alarms[0]
    assert (alarm.kind, alarm.severity, alarm.source) == (STORAGE_FULL, "critical", "default")
    assert A in alarm.message
    assert "30 d" in alarm.message
    assert "overwr" in alarm.message
    assert alarm.detail["channels"][0]["channel_id"] == A
    assert [(e.channel_id, e.at, e.kind) for e in events] == [(A, ago(10.0), "purged_in_guarantee")]
    assert json.loads(events[0].detail)["pool"] == "default"
    # Still over on the next pass (quota lowered): the same alarm, not a second one.
    await run(engine, StoragePool(name="default", path=tmp_path, quota_bytes=1000), state=state)
    async with engine.connect() as conn:
        assert (await list_alarms(conn))[1] == 1
    # Within limits but not by the margin: the alarm stays open.
    await run(engine, StoragePool(name="default", path=tmp_path, quota_bytes=1020), state=state)
    async with engine.connect() as conn:
        assert (await list_alarms(conn, open_only=True))[1] == 1
    report = await run(engine, StoragePool(name="default", path=tmp_path, quota_bytes=10_000))
    assert report.alarms_cleared == ["default"]
    async with engine.connect() as conn:
        assert (await list_alarms(conn, open_only=True))[1] == 0
        assert (await list_alarms(conn))[1] == 1
    await assert_rows_match_files(engine, tmp_path)


async def test_full_pool_stop_keeps_footage_and_closes_pool(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await _mixed_pool(engine, tmp_path)
    state = PoolFullState()
    await run(engine, StoragePool(name="default", path=tmp_path, quota_bytes=3000), state=state)
    assert not state.pool_full("default")
    report = await run(
        engine,
        StoragePool(name="default", path=tmp_path, quota_bytes=2000),
        policy="stop",
        state=state,
    )
    assert report.guaranteed_segments == 0
    assert report.quota_segments == 0
    assert await ages_left(engine) == {A: [10.0, 5.0], B: [3.0]}
    assert state.pool_full("default")
    assert report.full_pools == ["default"]
    async with engine.connect() as conn:
        (alarm,), _ = await list_alarms(conn, open_only=True)
        assert await conn.scalar(sa.select(sa.func.count()).select_from(recording_events)) == 0
    assert "stopped" in alarm.message
    assert A in alarm.message
    # Room again, but less than the margin: stays closed (no flapping).
    await run(
        engine,
        StoragePool(name="default", path=tmp_path, quota_bytes=3100),
        policy="stop",
        state=state,
    )
    assert state.pool_full("default")
    await run(
        engine,
        StoragePool(name="default", path=tmp_path, quota_bytes=4000),
        policy="stop",
        state=state,
    )
    assert not state.pool_full("default")
    async with engine.connect() as conn:
        assert (await list_alarms(conn, open_only=True))[1] == 0
    await assert_rows_match_files(engine, tmp_path)


async def test_locked_footage_survives_even_overwrite(engine: AsyncEngine, tmp_path: Path) -> None:
    await add_channel(engine, A, 1)
    for age in (3.0, 2.0):
        await add_segment(engine, tmp_path, A, ago(age))
    async with engine.begin() as conn:
        await create_lock(
            conn, channel_id=A, start_at=ago(4), end_at=ago(1), reason="case", locked_by="duty"
        )
    state = PoolFullState()
    report = await run(
        engine, StoragePool(name="default", path=tmp_path, quota_bytes=500), state=state
    )
    assert report.guaranteed_segments == 0
    assert await ages_left(engine) == {A: [3.0, 2.0]}
    assert state.pool_full("default")  # nothing may go: the recorder must stop
    async with engine.connect() as conn:
        (alarm,), _ = await list_alarms(conn, open_only=True)
    assert "locked" in alarm.message


@pytest.mark.parametrize("policy", ["overwrite", "stop"])
async def test_low_free_space_counts_like_a_quota(
    engine: AsyncEngine, tmp_path: Path, policy: str
) -> None:
    await add_channel(engine, C, 3)
    await add_channel(engine, B, 2)
    for age in (5.0, 4.0, 3.0):
        await add_segment(engine, tmp_path, C, ago(age))
    await add_segment(engine, tmp_path, B, ago(6.0))

    # A 10 000-byte disk; 4 000 used by the files; 7 000 must stay free → 1 000 over.
    def free_of(_path: Path) -> tuple[int, int]:
        return 10_000, 10_000 - sum(p.stat().st_size for p in tmp_path.rglob("*.mp4"))

    report = await run(
        engine,
        StoragePool(name="default", path=tmp_path),
        policy=policy,
        free_of=free_of,
        min_free_bytes=7_000,
    )
    assert report.quota_segments == 1  # the oldest class-3 segment, not the older class-2 one
    assert await ages_left(engine) == {C: [4.0, 3.0], B: [6.0]}
