"""Deleting recordings crash-safely through the garbage table (DESIGN §6, Moonfire's rule).

1. One transaction moves the segment rows to ``recording_garbage``: from then on nothing
   reads them, and the files are known to be doomed.
2. The files are unlinked and each directory touched is fsynced.
3. The garbage rows are deleted.

A crash after 1 leaves garbage rows that :func:`collect_garbage` finishes at the next start;
a crash never leaves a segment row naming a deleted file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import recording_garbage, segments
from vigil.recording.coverage_invalidation import invalidate_coverage
from vigil.recording.index import SegmentRow

logger = logging.getLogger(__name__)


async def delete_segments(
    engine: AsyncEngine,
    pool_dirs: Mapping[str, Path],
    rows: Sequence[SegmentRow],
    reason: str,
    *,
    fsync: bool = True,
) -> int:
    """Delete the segments' rows and files; returns the bytes freed."""
    if not rows:
        return 0
    ids = [row.id for row in rows]
    async with engine.begin() as conn:
        await conn.execute(
            recording_garbage.insert(),
            [
                {"pool": r.pool, "path": r.path, "channel_id": r.channel_id, "reason": reason}
                for r in rows
            ],
        )
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            await conn.execute(segments.delete().where(segments.c.id.in_(ids[start : start + 500])))
        # Stored coverage of the days these segments touched is no longer true.
        await invalidate_coverage(conn, [(r.channel_id, r.start_at, r.end_at) for r in rows])
    await collect_garbage(engine, pool_dirs, fsync=fsync)
    return sum(row.size_bytes for row in rows)


async def collect_garbage(
    engine: AsyncEngine, pool_dirs: Mapping[str, Path], *, fsync: bool = True
) -> int:
    """Unlink the files of every garbage row, fsync their directories, drop the rows."""
    g = recording_garbage.c
    async with engine.connect() as conn:
        pending = (await conn.execute(sa.select(g.id, g.pool, g.path))).all()
    if not pending:
        return 0
    done: list[int] = []
    files: list[Path] = []
    for garbage_id, pool, path in pending:
        directory = pool_dirs.get(pool)
        if directory is None:  # pool removed from settings: keep the row for when it returns
            logger.warning("garbage %s names unknown pool %s; kept", path, pool)
            continue
        files.append(directory / path)
        done.append(int(garbage_id))
    await asyncio.to_thread(_unlink_all, files, fsync)
    async with engine.begin() as conn:
        for start in range(0, len(done), 500):
            chunk = done[start : start + 500]
            await conn.execute(recording_garbage.delete().where(recording_garbage.c.id.in_(chunk)))
    return len(done)


def _unlink_all(files: Sequence[Path], fsync: bool) -> None:
    directories: set[Path] = set()
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
        directories.add(file.parent)
    if fsync:
        for directory in directories:
            fsync_directory(directory)


def fsync_directory(directory: Path) -> None:
    """Make a directory's entries (created or removed files) durable."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
