"""Start-up reconciliation: torn files indexed up to their last whole fragment, rows without
files removed, pending garbage finished, temporary files cleaned."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import recording_events, recording_garbage, segments
from vigil.recording.index import SegmentRow, segment_by_id
from vigil.recording.reconcile import reconcile
from vigil.recording.segment_writer import (
    SegmentWriter,
    clip_samples,
    record_samples,
)
from vigil.settings import StoragePool
from vigil.sim.sim_media import encode_clip

CHANNEL = "34020000001320000001"
T0 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _samples(frames: int) -> list:  # type: ignore[type-arg]
    return clip_samples(encode_clip(320, 240, CHANNEL), frames=frames)


async def _recorded(engine: AsyncEngine, pool: Path, frames: int = 150) -> list[SegmentRow]:
    return await record_samples(
        engine, "default", pool, CHANNEL, _samples(frames), start_at=T0, segment_duration_s=2.0
    )


async def _rows(engine: AsyncEngine) -> list[tuple[str, int, bool]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.select(segments.c.path, segments.c.size_bytes, segments.c.recovered).order_by(
                segments.c.start_at
            )
        )
        return [(str(p), int(n), bool(r)) for p, n, r in result]


@pytest.fixture
def pool_dir(tmp_path: Path) -> Path:
    return tmp_path / "pool"  # beside, not around, the SQLite file of the test database


def _pools(path: Path) -> list[StoragePool]:
    return [StoragePool(name="default", path=path)]


async def test_clean_pool_is_left_as_it_is(engine: AsyncEngine, pool_dir: Path) -> None:
    await _recorded(engine, pool_dir)
    before = await _rows(engine)
    report = await reconcile(engine, _pools(pool_dir))
    assert await _rows(engine) == before
    assert (report.rows_removed, report.files_indexed, report.files_removed) == (0, 0, 0)


async def test_torn_file_is_indexed_up_to_its_last_whole_fragment(
    engine: AsyncEngine, pool_dir: Path
) -> None:
    # A crash mid-run: the writer appended fragments, the process died before fsync + row.
    writer = SegmentWriter(
        engine, pool_name="default", pool_dir=pool_dir, channel_id=CHANNEL, run_id=5,
        run_start_at=T0, segment_duration_s=60.0,
    )  # fmt: skip
    for sample in _samples(110):  # 4 whole GOPs written, the fifth still in memory
        assert await writer.push(sample) == []
    path = writer.current_path
    assert path is not None
    await writer.abandon()
    file = pool_dir / path
    whole = file.read_bytes()
    with file.open("ab") as handle:  # half of a fragment written when the power went
        handle.write(whole[-5000:-1000])
    report = await reconcile(engine, _pools(pool_dir))
    assert report.files_indexed == 1
    assert report.bytes_truncated == 4000
    assert file.read_bytes() == whole
    async with engine.connect() as conn:
        row_id = await conn.scalar(sa.select(segments.c.id))
    row = await segment_by_id(engine, int(row_id))
    assert row is not None
    assert row.recovered
    assert (row.run_id, row.start_at, row.start_90k) == (5, T0, 0)
    assert row.frames == 100
    assert row.duration_90k == 100 * 3600
    assert row.sha256 == hashlib.sha256(whole).hexdigest()
    assert len(row.fragments) == 4
    assert row.fragments[-1].offset_bytes + row.fragments[-1].size_bytes == len(whole)
    # Idempotent: the next start finds nothing to do.
    again = await reconcile(engine, _pools(pool_dir))
    assert (again.files_indexed, again.rows_removed) == (0, 0)


async def test_rows_without_whole_files_are_removed_with_an_event(
    engine: AsyncEngine, pool_dir: Path
) -> None:
    rows = await _recorded(engine, pool_dir, frames=150)
    assert len(rows) == 3
    (pool_dir / rows[0].path).unlink()
    shortened = pool_dir / rows[1].path
    data = shortened.read_bytes()
    shortened.write_bytes(data[: rows[1].fragments[1].offset_bytes + 10])
    report = await reconcile(engine, _pools(pool_dir))
    assert report.rows_removed == 2
    remaining = await _rows(engine)
    # The missing file's row is gone; the short file keeps its first whole fragment.
    assert remaining == [
        (rows[1].path, rows[1].fragments[1].offset_bytes, True),
        (rows[2].path, rows[2].size_bytes, False),
    ]
    async with engine.connect() as conn:
        kinds = (await conn.execute(sa.select(recording_events.c.kind))).scalars().all()
    assert kinds == ["error", "error"]


async def test_pending_garbage_and_temporary_files_are_finished(
    engine: AsyncEngine, pool_dir: Path
) -> None:
    rows = await _recorded(engine, pool_dir, frames=100)
    doomed = rows[0]
    # A crash after the garbage row was written and the segment row deleted, before unlink.
    async with engine.begin() as conn:
        await conn.execute(
            recording_garbage.insert().values(
                pool="default", path=doomed.path, channel_id=CHANNEL, reason="retention"
            )
        )
        await conn.execute(segments.delete().where(segments.c.id == doomed.id))
    temp = pool_dir / CHANNEL / "export.partial"
    temp.write_bytes(b"half")
    stranger = pool_dir / "README.txt"
    stranger.write_text("operator notes")
    report = await reconcile(engine, _pools(pool_dir))
    assert report.garbage_collected == 1
    assert not (pool_dir / doomed.path).exists()  # not re-indexed as an orphan
    assert not temp.exists()
    assert stranger.exists()
    assert report.foreign_files == 1
    assert [p for p, _n, _r in await _rows(engine)] == [r.path for r in rows[1:]]
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(recording_garbage)) == 0


async def test_file_with_only_an_init_segment_is_removed(
    engine: AsyncEngine, pool_dir: Path
) -> None:
    rows = await _recorded(engine, pool_dir, frames=50)
    data = (pool_dir / rows[0].path).read_bytes()
    orphan = pool_dir / rows[0].path.replace("-0001.mp4", "-0002.mp4")
    orphan.write_bytes(data[: rows[0].init_size_bytes + 100])
    unreadable = pool_dir / rows[0].path.replace("-0001.mp4", "-0003.mp4")
    unreadable.write_bytes(b"\x00\x00\x00\x10junkjunkjunkjunk")
    report = await reconcile(engine, _pools(pool_dir))
    assert report.files_removed == 1
    assert not orphan.exists()
    assert unreadable.exists()  # never delete what cannot be read
    assert len(await _rows(engine)) == 1


async def test_index_then_reconcile_agree_on_recovered_tables(
    engine: AsyncEngine, pool_dir: Path
) -> None:
    # Deleting a clean row and reconciling rebuilds the same fragment table from the file.
    rows = await _recorded(engine, pool_dir, frames=100)
    async with engine.begin() as conn:
        await conn.execute(segments.delete())
    await reconcile(engine, _pools(pool_dir))
    async with engine.connect() as conn:
        ids = (await conn.execute(sa.select(segments.c.id).order_by(segments.c.start_at))).all()
    rebuilt = [await segment_by_id(engine, int(i)) for (i,) in ids]
    for original, again in zip(rows, rebuilt, strict=True):
        assert again is not None
        assert again.fragments == original.fragments
        assert (again.sha256, again.size_bytes, again.frames) == (
            original.sha256,
            original.size_bytes,
            original.frames,
        )
        assert again.start_90k == original.start_90k
        assert abs((again.start_at - original.start_at).total_seconds()) < 0.001
