"""A pool on a small filesystem fills up with real segments: the full policy, the alarm, no
corrupt file, and recording again once space returns.

The pool is an 8 MiB tmpfs when mounting is allowed (root); otherwise a pool quota stands in
for the filesystem limit. Retention runs after every finished segment, as the component does
every interval.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.playback_fixtures import ffprobe_h264_frame_count
from tests.recording.synthetic_segments import add_channel, assert_rows_match_files
from vigil.db.tables import recording_events, segments
from vigil.protocols.samples import Sample
from vigil.recording import events
from vigil.recording.alarms import list_alarms
from vigil.recording.errors import StorageFullError
from vigil.recording.index import SegmentRow
from vigil.recording.retention import STORAGE_FULL, PoolFullState, run_retention_pass
from vigil.recording.segment_writer import SegmentWriter, clip_samples, index_segments
from vigil.recording.timeline import channel_recordings
from vigil.settings import RecordingSettings, RetentionSettings, StoragePool
from vigil.sim.sim_media import encode_clip

pytestmark = pytest.mark.e2e

CHANNEL = "34020200001310000001"  # class 1: everything recorded here is guaranteed
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
MIB = 1024 * 1024
FS_BYTES = 8 * MIB
USABLE_BYTES = int(2.5 * MIB)  # what min_free_bytes (or the quota) leaves for segments


@dataclass
class SmallPool:
    pool: StoragePool
    min_free_bytes: int
    mounted: bool

    def grow(self) -> StoragePool:
        """Give the pool room again: a bigger filesystem, or a bigger quota."""
        if self.mounted:
            subprocess.run(
                ["mount", "-o", f"remount,size={4 * FS_BYTES}", str(self.pool.path)], check=True
            )
            return self.pool
        return self.pool.model_copy(update={"quota_bytes": 4 * USABLE_BYTES})


@pytest.fixture
def small_pool(tmp_path: Path) -> Iterator[SmallPool]:
    directory = tmp_path / "pool"
    directory.mkdir()
    mounted = False
    if os.geteuid() == 0:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={FS_BYTES}", "tmpfs", str(directory)],
            capture_output=True,
        )
        mounted = result.returncode == 0
    try:
        if mounted:
            yield SmallPool(
                StoragePool(name="default", path=directory), FS_BYTES - USABLE_BYTES, True
            )
        else:
            pool = StoragePool(name="default", path=directory, quota_bytes=USABLE_BYTES)
            yield SmallPool(pool, 0, False)
    finally:
        if mounted:
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(["umount", str(directory)], check=True)


def _samples(seconds: int) -> list[Sample]:
    return clip_samples(encode_clip(320, 240, CHANNEL), frames=25 * seconds)


async def _assert_every_file_plays(engine: AsyncEngine, pool_dir: Path) -> int:
    await assert_rows_match_files(engine, pool_dir)
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(segments.c.path, segments.c.frames))).all()
    for path, frames in rows:
        assert ffprobe_h264_frame_count(pool_dir / path) == frames
    return len(rows)


async def _record(
    engine: AsyncEngine,
    small: SmallPool,
    state: PoolFullState,
    settings: RecordingSettings,
    *,
    run_id: int,
    start_at: datetime,
    seconds: int,
) -> tuple[list[SegmentRow], bool]:
    """Record like the recorder: stop at a full pool, logging ``disk_full``; (rows, stopped)."""

    async def room() -> bool:
        return not state.pool_full(small.pool.name)

    writer = SegmentWriter(
        engine,
        pool_name=small.pool.name,
        pool_dir=small.pool.path,
        channel_id=CHANNEL,
        run_id=run_id,
        run_start_at=start_at,
        segment_duration_s=2.0,
        room_check=room,
    )
    rows: list[SegmentRow] = []
    try:
        for sample in _samples(seconds):
            finished = await index_segments(engine, await writer.push(sample))
            rows += finished
            if finished:
                await run_retention_pass(
                    engine, [small.pool], settings, RetentionSettings(), now=NOW, state=state
                )
        rows += await index_segments(engine, await writer.close())
    except StorageFullError:
        rows += await index_segments(engine, await writer.abandon())
        async with engine.begin() as conn:
            await events.add_event(
                conn, CHANNEL, events.DISK_FULL, small.pool.name, at=rows[-1].end_at
            )
        return rows, True
    return rows, False


async def test_stop_policy_keeps_guaranteed_footage_and_resumes(
    engine: AsyncEngine, small_pool: SmallPool
) -> None:
    await add_channel(engine, CHANNEL, 1)
    settings = RecordingSettings(full_policy="stop", min_free_bytes=small_pool.min_free_bytes)
    state = PoolFullState()
    first, stopped = await _record(
        engine, small_pool, state, settings, run_id=1, start_at=T0, seconds=600
    )
    assert stopped, "the pool never filled"
    assert state.pool_full("default")
    async with engine.connect() as conn:
        (alarm,), _ = await list_alarms(conn, open_only=True)
        kinds = (await conn.scalars(sa.select(recording_events.c.kind))).all()
    assert (alarm.kind, alarm.severity, alarm.source) == (STORAGE_FULL, "critical", "default")
    assert CHANNEL in alarm.message
    assert kinds == [events.DISK_FULL]
    # Nothing guaranteed was purged, and every file left is whole.
    assert await _assert_every_file_plays(engine, small_pool.pool.path) == len(first)

    pool = small_pool.grow()
    report = await run_retention_pass(
        engine, [pool], settings, RetentionSettings(), now=NOW, state=state
    )
    assert report.alarms_cleared == ["default"]
    assert not state.pool_full("default")
    resumed_at = first[-1].end_at + timedelta(seconds=30)
    small_pool.pool = pool
    second, stopped = await _record(
        engine, small_pool, state, settings, run_id=2, start_at=resumed_at, seconds=10
    )
    assert not stopped
    assert len(second) == 5
    assert await _assert_every_file_plays(engine, pool.path) == len(first) + 5
    _, timeline = await channel_recordings(engine, CHANNEL, T0, second[-1].end_at)
    assert [(g.start_at, g.end_at, g.cause) for g in timeline.gaps] == [
        (first[-1].end_at, resumed_at, events.DISK_FULL)
    ]


async def test_overwrite_policy_purges_oldest_guaranteed_with_alarm(
    engine: AsyncEngine, small_pool: SmallPool
) -> None:
    await add_channel(engine, CHANNEL, 1)
    settings = RecordingSettings(full_policy="overwrite", min_free_bytes=small_pool.min_free_bytes)
    state = PoolFullState()
    rows, stopped = await _record(
        engine, small_pool, state, settings, run_id=1, start_at=T0, seconds=200
    )
    assert not stopped  # overwrite never closes a pool that has unlocked footage
    kept = await _assert_every_file_plays(engine, small_pool.pool.path)
    assert 0 < kept < len(rows)
    async with engine.connect() as conn:
        survivors = (await conn.scalars(sa.select(segments.c.id).order_by(segments.c.id))).all()
        purged = (
            await conn.execute(
                sa.select(recording_events.c.kind, recording_events.c.at).order_by(
                    recording_events.c.id
                )
            )
        ).all()
        (alarm,), _ = await list_alarms(conn, open_only=True)
    # Oldest first: the survivors are the newest segments written.
    assert list(survivors) == [row.id for row in rows[-kept:]]
    assert {kind for kind, _ in purged} == {events.PURGED_IN_GUARANTEE}
    assert purged[0][1] == rows[0].start_at
    assert "overwr" in alarm.message
    _, timeline = await channel_recordings(engine, CHANNEL, T0, rows[-1].end_at)
    assert [(g.start_at, g.cause) for g in timeline.gaps] == [(T0, events.PURGED_IN_GUARANTEE)]
    pool = small_pool.grow()
    report = await run_retention_pass(
        engine, [pool], settings, RetentionSettings(), now=NOW, state=state
    )
    assert report.alarms_cleared == ["default"]
