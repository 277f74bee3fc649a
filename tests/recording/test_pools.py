"""Storage pools: indexed usage per pool, quotas and the free-space floor."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.recording.pools import PoolRoom, pool_dirs, pool_usage
from vigil.recording.segment_writer import clip_samples, record_samples
from vigil.settings import StoragePool
from vigil.sim.sim_media import encode_clip

CHANNEL = "34020000001320000001"
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


async def _record(engine: AsyncEngine, pool: StoragePool, frames: int = 100) -> int:
    rows = await record_samples(
        engine, pool.name, pool.path, CHANNEL,
        clip_samples(encode_clip(320, 240, CHANNEL), frames=frames),
        start_at=T0, segment_duration_s=2.0,
    )  # fmt: skip
    return sum(r.size_bytes for r in rows)


async def test_usage_sums_each_pool_separately(engine: AsyncEngine, tmp_path: Path) -> None:
    fast = StoragePool(name="fast", path=tmp_path / "fast", quota_bytes=10_000_000)
    slow = StoragePool(name="slow", path=tmp_path / "slow")
    written = await _record(engine, fast)
    usage = await pool_usage(engine, [fast, slow])
    assert usage["fast"].used_bytes == written
    assert usage["fast"].segments == 2
    assert usage["slow"].used_bytes == 0  # never written: the directory does not exist yet
    assert usage["slow"].fs_total_bytes > 0
    assert usage["fast"].room_bytes == 10_000_000 - written
    assert not usage["fast"].full
    assert usage["fast"].used_fraction == written / 10_000_000
    assert pool_dirs([fast, slow]) == {"fast": fast.path, "slow": slow.path}


async def test_quota_and_free_floor_make_a_pool_full(engine: AsyncEngine, tmp_path: Path) -> None:
    pool = StoragePool(name="small", path=tmp_path / "small", quota_bytes=50_000)
    await _record(engine, pool)
    assert (await pool_usage(engine, [pool]))["small"].full
    roomy = StoragePool(name="small", path=pool.path)  # no quota, but a floor above the disk
    usage = await pool_usage(engine, [roomy], min_free_bytes=1 << 62)
    assert usage["small"].full


async def test_room_counts_bytes_written_between_refreshes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    pool = StoragePool(name="p", path=tmp_path / "p", quota_bytes=1_000_000)
    room = PoolRoom(engine, [pool], refresh_s=3600)
    assert await room.has_room("p")
    room.note_written("p", 999_999)
    assert await room.has_room("p")
    room.note_written("p", 1)
    assert not await room.has_room("p")
    await room.refresh()  # the index knows nothing was kept
    assert await room.has_room("p")
    assert not await room.has_room("unknown-pool")
