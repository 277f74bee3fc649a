"""Deletion through the garbage table: rows first, then files, then the garbage rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.synthetic_segments import add_segment
from vigil.db.tables import recording_garbage, segments
from vigil.recording.garbage import collect_garbage, delete_segments
from vigil.recording.index import segment_by_id, segments_between

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
CHANNEL = "34020000001320000001"


async def _segment(engine: AsyncEngine, pool_dir: Path, name: str, minute: int) -> int:
    """A minute-long segment of 100 bytes and 1500 frames at ``CHANNEL/name``."""
    return await add_segment(
        engine, pool_dir, CHANNEL, T0 + timedelta(minutes=minute),
        size_bytes=100, path=f"{CHANNEL}/{name}", start_90k=minute * 60 * 90_000, frames=1500,
    )  # fmt: skip


async def test_delete_removes_rows_and_files(engine: AsyncEngine, tmp_path: Path) -> None:
    first = await _segment(engine, tmp_path, "a.mp4", 0)
    second = await _segment(engine, tmp_path, "b.mp4", 1)
    row = await segment_by_id(engine, first)
    assert row is not None
    assert row.fragments[0].frames == 1500
    freed = await delete_segments(engine, {"default": tmp_path}, [row], "retention")
    assert freed == 100
    assert not (tmp_path / row.path).exists()
    assert (tmp_path / "34020000001320000001" / "b.mp4").exists()
    left = await segments_between(engine, row.channel_id, T0, T0 + timedelta(hours=1))
    assert [s.id for s in left] == [second]
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(recording_garbage)) == 0


async def test_pending_garbage_is_finished_later(engine: AsyncEngine, tmp_path: Path) -> None:
    """A crash after the rows moved to the garbage table: the next start unlinks the file."""
    await _segment(engine, tmp_path, "a.mp4", 0)
    async with engine.begin() as conn:
        await conn.execute(
            recording_garbage.insert().values(
                pool="default",
                path="34020000001320000001/a.mp4",
                channel_id="34020000001320000001",
                reason="retention",
            )
        )
        await conn.execute(segments.delete())
    # A pool no longer configured keeps its garbage rows until it returns.
    assert await collect_garbage(engine, {"other": tmp_path}) == 0
    assert (tmp_path / "34020000001320000001" / "a.mp4").exists()
    assert await collect_garbage(engine, {"default": tmp_path}) == 1
    assert not (tmp_path / "34020000001320000001" / "a.mp4").exists()
    assert await collect_garbage(engine, {"default": tmp_path}) == 0
