"""The recorder end to end on loopback: simulator → SIP/RTP → LiveStreams → segment files and
index rows, by policy; schedules stop it; a slow database makes it fall behind, loudly."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import alarms, channels, recording_events, segments
from vigil.recorder import RECORDER_BEHIND, Recorder, RecorderCollector
from vigil.recording.index import SegmentRow, segments_between
from vigil.recording.policies import set_policy
from vigil.settings import Settings, StoragePool, load_settings

from ..signaling.conftest import eventually, sqlite_engine
from ..streams.conftest import LivePath, live_path

__all__ = ["sqlite_engine"]  # a fixture: the loopback tests run on SQLite only

pytestmark = pytest.mark.integration

ALL_TIME = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _settings(pool_dir: Path, quota_bytes: int = 0) -> Settings:
    return load_settings(
        recording={
            "pools": [StoragePool(name="main", path=pool_dir, quota_bytes=quota_bytes)],
            "default_pool": "main",
            "segment_duration_s": 2.0,
            "min_free_bytes": 0,
        }
    )


@contextlib.asynccontextmanager
async def recording(
    path: LivePath, engine: AsyncEngine, pool_dir: Path, quota_bytes: int = 0
) -> AsyncIterator[Recorder]:
    def reachable(device_id: str) -> bool:
        state = path.signaling.table.get(device_id)
        return state is not None and state.reachable

    recorder = Recorder(
        engine,
        path.streams.open_live,
        _settings(pool_dir, quota_bytes),
        device_reachable=reachable,
        event_source=path.signaling.subscribe_events,
        evaluate_interval_s=0.5,
    )
    task = asyncio.create_task(recorder.run())
    try:
        yield recorder
    finally:
        await recorder.stop()
        await asyncio.wait_for(task, 10)


async def _sim_channels(engine: AsyncEngine, path: LivePath) -> list[str]:
    wanted = sorted(c.channel_id for d in path.sim.devices.values() for c in d.plan.channels)

    async def online() -> bool:
        async with engine.connect() as conn:
            found = await conn.scalar(
                sa.select(sa.func.count())
                .select_from(channels)
                .where(channels.c.id.in_(wanted), channels.c.online.is_(True))
            )
        return found == len(wanted)

    await eventually(online, timeout_s=15)
    return wanted


async def _rows(engine: AsyncEngine, channel_id: str) -> list[SegmentRow]:
    return await segments_between(engine, channel_id, *ALL_TIME)


async def _event_kinds(engine: AsyncEngine, channel_id: str) -> list[str]:
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.select(recording_events.c.kind)
            .where(recording_events.c.channel_id == channel_id)
            .order_by(recording_events.c.id)
        )
        return [str(k) for k in result.scalars()]


async def test_policies_decide_which_channels_record(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    engine = sqlite_engine
    pool_dir = tmp_path / "pool"
    async with live_path(engine, sim={"devices": 2, "channels": 2}) as path:
        first, second, third, fourth = await _sim_channels(engine, path)
        async with engine.begin() as conn:
            # Catalog-created points are class 3 (not recorded by default).
            await conn.execute(
                channels.update().where(channels.c.id.in_([first, second])).values(point_class=1)
            )
            await conn.execute(
                channels.update().where(channels.c.id == third).values(point_class=2)
            )
            await set_policy(conn, second, enabled=False, schedule=[], pool=None,
                             updated_by="test", known_pools=["main"])  # fmt: skip
            await set_policy(conn, fourth, enabled=True, schedule=[], pool=None,
                             updated_by="test", known_pools=["main"])  # fmt: skip
        recorded = [first, third, fourth]
        async with recording(path, engine, pool_dir) as recorder:

            async def enough() -> bool:
                counts = [len(await _rows(engine, c)) for c in recorded]
                return min(counts) >= 2

            await eventually(enough, timeout_s=30, interval_s=0.3)
            assert all(recorder.is_recording(c) for c in recorded)
            assert not recorder.is_recording(second)
            assert recorder.metrics()["channels_recording"] == 3
            scraped = {m.name: m.samples[0].value for m in RecorderCollector(recorder).collect()}
            assert scraped["vigil_recorder_channels_recording"] == 3
            assert scraped["vigil_recorder_segments_total"] >= 6
    for channel_id in recorded:
        rows = await _rows(engine, channel_id)
        assert len({r.run_id for r in rows}) == 1
        for before, after in itertools.pairwise(rows):
            assert after.start_90k == before.start_90k + before.duration_90k
            assert after.start_at == before.end_at
        for row in rows:
            data = (pool_dir / row.path).read_bytes()
            assert len(data) == row.size_bytes
            assert hashlib.sha256(data).hexdigest() == row.sha256
            assert row.frames == sum(f.frames for f in row.fragments) > 0
            assert row.pool == "main"
        # Rotation: whole segments are about 2 s; the first one is staggered (≤ 2 s + GOP).
        assert all(1.5 <= r.duration_s <= 3.5 for r in rows[1:-1])
        assert await _event_kinds(engine, channel_id) == ["started", "stopped"]
    assert await _rows(engine, second) == []


async def test_schedule_stops_and_resumes_recording(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    engine = sqlite_engine
    async with live_path(engine, sim={"devices": 1, "channels": 1}) as path:
        (channel,) = await _sim_channels(engine, path)
        async with engine.begin() as conn:
            await conn.execute(channels.update().values(point_class=1))
        async with recording(path, engine, tmp_path / "pool") as recorder:
            await eventually(lambda: recorder.is_recording(channel), timeout_s=15)
            now = datetime.now(recorder.zone)
            elsewhere = [[(now.weekday() + 3) % 7, 0, 60]]  # a window that is not now
            async with engine.begin() as conn:
                await set_policy(conn, channel, enabled=None, schedule=elsewhere, pool=None,
                                 updated_by="test", known_pools=["main"])  # fmt: skip
            recorder.wake()
            await eventually(lambda: recorder.channel(channel) is None, timeout_s=10)
            assert (await _event_kinds(engine, channel))[-1] == "not_scheduled"
            async with engine.begin() as conn:
                await set_policy(conn, channel, enabled=None, schedule=[], pool=None,
                                 updated_by="test", known_pools=["main"])  # fmt: skip
            recorder.wake()
            await eventually(lambda: recorder.is_recording(channel), timeout_s=15)
    kinds = await _event_kinds(engine, channel)
    assert kinds == ["started", "not_scheduled", "started", "stopped"]
    assert await _rows(engine, channel)  # the part before the schedule change was kept


async def test_falling_behind_raises_an_alarm_and_starts_a_new_run(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    engine = sqlite_engine
    async with live_path(engine, sim={"devices": 1, "channels": 1}) as path:
        (channel,) = await _sim_channels(engine, path)
        async with engine.begin() as conn:
            await conn.execute(channels.update().values(point_class=1))
        async with recording(path, engine, tmp_path / "pool") as recorder:
            recorder.deps.queue_samples = 5  # 0.2 s of video before the hub skips us
            await eventually(lambda: recorder.is_recording(channel), timeout_s=15)
            await eventually(lambda: _has_rows(engine, channel), timeout_s=15, interval_s=0.2)
            # Another writer holds the database for 3 s: the next index insert waits, the
            # stream goes on, the recorder's queue overflows.
            async with engine.begin() as conn:
                await conn.execute(segments.update().where(segments.c.id < 0).values(frames=0))
                await asyncio.sleep(3.0)

            async def alarmed() -> bool:
                async with engine.connect() as conn:
                    return bool(
                        await conn.scalar(
                            sa.select(sa.func.count())
                            .select_from(alarms)
                            .where(alarms.c.kind == RECORDER_BEHIND, alarms.c.source == channel)
                        )
                    )

            await eventually(alarmed, timeout_s=10, interval_s=0.2)
            assert recorder.metrics()["behind_total"] >= 1
            await eventually(lambda: _has_runs(engine, channel, 2), timeout_s=15, interval_s=0.3)
    assert "behind" in await _event_kinds(engine, channel)


async def _has_rows(engine: AsyncEngine, channel_id: str) -> bool:
    return bool(await _rows(engine, channel_id))


async def _has_runs(engine: AsyncEngine, channel_id: str, count: int) -> bool:
    return len({r.run_id for r in await _rows(engine, channel_id)}) >= count


async def test_full_pool_is_a_disk_full_event_not_silence(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    engine = sqlite_engine
    async with live_path(engine, sim={"devices": 1, "channels": 1}) as path:
        (channel,) = await _sim_channels(engine, path)
        async with engine.begin() as conn:
            await conn.execute(channels.update().values(point_class=1))
        async with recording(path, engine, tmp_path / "pool", quota_bytes=1) as recorder:

            async def refused() -> bool:
                return "disk_full" in await _event_kinds(engine, channel)

            await eventually(refused, timeout_s=15, interval_s=0.2)
            assert recorder.metrics()["disk_full_total"] >= 1
    # The file begun while the pool had room is kept and indexed; nothing after it.
    rows = await _rows(engine, channel)
    assert len(rows) == 1
    assert sorted(p.name for p in (tmp_path / "pool").rglob("*.mp4")) == [Path(rows[0].path).name]
