"""Synthetic segment rows with real files in a pool directory, for retention and coverage."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels, regions, segments
from vigil.recording.fragment_table import FragmentEntry
from vigil.recording.index import NewSegment, ensure_video_params, insert_segment


async def add_region(engine: AsyncEngine, code: str = "340202") -> None:
    async with engine.begin() as conn:
        exists = await conn.scalar(sa.select(regions.c.code).where(regions.c.code == code))
        if exists is None:
            await conn.execute(
                regions.insert().values(code=code, name=f"region {code}", level=len(code) // 2)
            )


async def add_channel(
    engine: AsyncEngine,
    channel_id: str,
    point_class: int,
    *,
    retention_days: int | None = None,
    region: str = "340202",
) -> None:
    await add_region(engine, region)
    async with engine.begin() as conn:
        await conn.execute(
            channels.insert().values(
                id=channel_id,
                name=f"point {channel_id[-4:]}",
                region_code=region,
                point_class=point_class,
                retention_days=retention_days,
            )
        )


async def add_segment(
    engine: AsyncEngine,
    pool_dir: Path,
    channel_id: str,
    start_at: datetime,
    *,
    duration_s: float = 60.0,
    size_bytes: int = 1000,
    pool: str = "default",
    path: str | None = None,
    start_90k: int = 0,
    frames: int = 25,
) -> int:
    """A segment row (one fragment of ``frames`` frames) and a file of ``size_bytes`` bytes at
    ``path`` in the pool (by default the recorder's naming); returns the row id."""
    end_at = start_at + timedelta(seconds=duration_s)
    rel = path or f"{channel_id}/{start_at:%Y%m%d}/{channel_id}-{start_at:%Y%m%dT%H%M%S%f}.mp4"
    file = pool_dir / rel
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(b"\0" * size_bytes)
    duration_90k = round(duration_s * 90_000)
    async with engine.begin() as conn:
        params = await ensure_video_params(
            conn, codec="h264", rfc6381_codec="avc1.42c01f", width=64, height=48, init_segment=b"i"
        )
        return await insert_segment(
            conn,
            NewSegment(
                channel_id=channel_id,
                pool=pool,
                path=rel,
                run_id=1,
                start_at=start_at,
                end_at=end_at,
                start_90k=start_90k,
                duration_90k=duration_90k,
                size_bytes=size_bytes,
                init_size_bytes=10,
                frames=frames,
                params_id=params,
                sha256="0" * 64,
                fragments=(FragmentEntry(10, size_bytes - 10, 0, duration_90k, frames),),
            ),
        )


async def add_run(
    engine: AsyncEngine,
    pool_dir: Path,
    channel_id: str,
    start_at: datetime,
    count: int,
    *,
    duration_s: float = 60.0,
    size_bytes: int = 1000,
    pool: str = "default",
) -> list[int]:
    """``count`` abutting segments from ``start_at``."""
    return [
        await add_segment(
            engine,
            pool_dir,
            channel_id,
            start_at + timedelta(seconds=i * duration_s),
            duration_s=duration_s,
            size_bytes=size_bytes,
            pool=pool,
        )
        for i in range(count)
    ]


async def segment_rows(engine: AsyncEngine) -> list[tuple[str, str, datetime]]:
    """(channel, path, start) of every indexed segment, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(segments.c.channel_id, segments.c.path, segments.c.start_at).order_by(
                segments.c.start_at, segments.c.id
            )
        )
        return [(str(c), str(p), s) for c, p, s in rows]


def files_in(pool_dir: Path) -> set[str]:
    """Relative paths of every segment file under the pool directory (the SQLite test
    database may share the directory)."""
    return {str(p.relative_to(pool_dir)) for p in pool_dir.rglob("*.mp4") if p.is_file()}


async def assert_rows_match_files(engine: AsyncEngine, pool_dir: Path) -> None:
    """No file without a row, no row without a file."""
    indexed = {path for _, path, _ in await segment_rows(engine)}
    on_disk = files_in(pool_dir)
    assert indexed == on_disk, (sorted(indexed - on_disk), sorted(on_disk - indexed))
