"""Start-up reconciliation of segment files against index rows (DESIGN §6).

Run before anything records or purges, once per start:

1. Pending garbage is finished (``garbage.collect_garbage``): a crash between marking and
   unlinking leaves rows there.
2. Rows whose file is missing or shorter than the row says are removed, each with an
   ``error`` recording event (a shorter file is then indexed anew as in 3, so its whole
   fragments survive).
3. Files named like segments (``segment_names.segment_path``) without a row — a crash
   between the first write and the row insert — are read back: the file is truncated after
   its last whole ``moof`` + ``mdat``, fsynced, hashed, and indexed with ``recovered``
   set. A file with a whole init segment but no whole fragment is removed; one that cannot
   be read at all is left in place and logged (it may still be rescued by hand).
4. Temporary names (``*.tmp``, ``*.partial``, dot files) are removed.

Files with other names are left alone and logged. Only one process may write a pool while
it is reconciled (the embedded deployment; DESIGN §7 adds per-node pools).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.db.tables import segments, video_params
from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.fragment_scan import FileScan, init_parameter_sets, scan_file
from vigil.recording import events
from vigil.recording.coverage_invalidation import invalidate_coverage
from vigil.recording.fragment_table import FragmentEntry
from vigil.recording.garbage import collect_garbage, fsync_directory
from vigil.recording.index import NewSegment, ensure_video_params, insert_segment
from vigil.recording.segment_names import SEGMENT_SUFFIX, parse_segment_path
from vigil.recording.segment_writer import TICKS_PER_S
from vigil.settings import StoragePool

logger = logging.getLogger(__name__)

TEMP_SUFFIXES = (".tmp", ".partial")


@dataclass(slots=True)
class ReconcileReport:
    garbage_collected: int = 0
    rows_removed: int = 0
    files_indexed: int = 0
    bytes_truncated: int = 0
    files_removed: int = 0
    foreign_files: int = 0
    recovered_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Recovered:
    scan: FileScan
    init: bytes
    size_bytes: int  # kept
    original_size_bytes: int
    sha256: str


async def reconcile(
    engine: AsyncEngine, pools: Sequence[StoragePool], *, fsync: bool = True
) -> ReconcileReport:
    """Make files and rows agree in every pool; see the module docstring."""
    report = ReconcileReport()
    pool_dirs = {pool.name: pool.path for pool in pools}
    report.garbage_collected = await collect_garbage(engine, pool_dirs, fsync=fsync)
    for pool in pools:
        await _reconcile_pool(engine, pool, report, fsync=fsync)
    if report.rows_removed or report.files_indexed or report.files_removed:
        logger.warning(
            "reconciliation: %d rows without whole files removed, %d files indexed "
            "(%d torn bytes cut), %d files removed",
            report.rows_removed,
            report.files_indexed,
            report.bytes_truncated,
            report.files_removed,
        )
    return report


async def _reconcile_pool(
    engine: AsyncEngine, pool: StoragePool, report: ReconcileReport, *, fsync: bool
) -> None:
    files, temps, foreign = await asyncio.to_thread(_walk, pool.path)
    report.foreign_files += len(foreign)
    for path in foreign[:20]:
        logger.info("pool %s: leaving unknown file %s", pool.name, path)
    if temps:
        await asyncio.to_thread(_unlink_all, [pool.path / t for t in temps], fsync)
        report.files_removed += len(temps)
    s = segments.c
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(s.id, s.path, s.size_bytes, s.channel_id, s.start_at, s.end_at).where(
                    s.pool == pool.name
                )
            )
        ).all()
    indexed: set[str] = set()
    for row_id, path, size_bytes, channel_id, start_at, end_at in rows:
        actual = files.get(path)
        if actual is not None and actual >= size_bytes:
            indexed.add(path)
            continue
        problem = "missing" if actual is None else f"{actual} bytes, the row says {size_bytes}"
        async with engine.begin() as conn:
            await conn.execute(segments.delete().where(s.id == row_id))
            await invalidate_coverage(conn, [(channel_id, start_at, end_at)])
            await events.add_event(
                conn,
                channel_id,
                events.ERROR,
                f"segment file {path} in pool {pool.name}: {problem}",
            )
        report.rows_removed += 1
    for path in sorted(files.keys() - indexed):
        await _index_orphan(engine, pool, path, report, fsync=fsync)


async def _index_orphan(
    engine: AsyncEngine, pool: StoragePool, path: str, report: ReconcileReport, *, fsync: bool
) -> None:
    name = parse_segment_path(path)
    assert name is not None  # _walk keeps only segment names
    full = pool.path / path
    try:
        recovered = await asyncio.to_thread(_recover_file, full, fsync)
    except (ParseError, OSError) as exc:
        # Never delete what cannot be read: it may be evidence a person can still rescue.
        logger.warning("pool %s: %s is not a readable segment (%s); left", pool.name, path, exc)
        report.foreign_files += 1
        return
    if recovered is None:  # an init segment and no whole fragment: nothing to keep
        await asyncio.to_thread(_unlink_all, [full], fsync)
        report.files_removed += 1
        return
    scan = recovered.scan
    report.bytes_truncated += recovered.original_size_bytes - recovered.size_bytes
    first = scan.fragments[0]
    last = scan.fragments[-1]
    start_90k = first.decode_time_90k
    duration_90k = last.decode_time_90k + last.duration_90k - start_90k
    async with engine.begin() as conn:
        params_id = await _params_id(conn, recovered.init)
        await insert_segment(
            conn,
            NewSegment(
                channel_id=name.channel_id,
                pool=pool.name,
                path=path,
                run_id=name.run_id,
                start_at=name.start_at,
                end_at=name.start_at + timedelta(seconds=duration_90k / TICKS_PER_S),
                start_90k=start_90k,
                duration_90k=duration_90k,
                size_bytes=recovered.size_bytes,
                init_size_bytes=scan.init_size_bytes,
                frames=sum(f.sample_count for f in scan.fragments),
                params_id=params_id,
                sha256=recovered.sha256,
                fragments=tuple(
                    FragmentEntry(
                        offset_bytes=f.offset_bytes,
                        size_bytes=f.size_bytes,
                        start_90k=f.decode_time_90k - start_90k,
                        duration_90k=f.duration_90k,
                        frames=f.sample_count,
                        starts_with_key=f.starts_with_key,
                    )
                    for f in scan.fragments
                ),
                recovered=True,
            ),
        )
    report.files_indexed += 1
    report.recovered_paths.append(path)


async def _params_id(conn: AsyncConnection, init: bytes) -> int:
    """The video parameters of an init segment: normally inserted before the file was made."""
    digest = hashlib.sha256(init).hexdigest()
    found = await conn.scalar(sa.select(video_params.c.id).where(video_params.c.sha256 == digest))
    if found is not None:
        return int(found)
    params = init_parameter_sets(init)
    return await ensure_video_params(
        conn,
        codec=params.codec.value,
        rfc6381_codec=params.codec_string,
        width=params.width,
        height=params.height,
        init_segment=init,
    )


# ---- blocking file work (worker threads) ----------------------------------------------


def _walk(root: Path) -> tuple[dict[str, int], list[str], list[str]]:
    """Segment files (relative path → size), temporary files, other files of a pool."""
    files: dict[str, int] = {}
    temps: list[str] = []
    foreign: list[str] = []
    if not root.is_dir():
        return files, temps, foreign
    for directory, _dirs, names in os.walk(root):
        for name in names:
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            if name.startswith(".") or name.endswith(TEMP_SUFFIXES):
                temps.append(rel)
            elif name.endswith(SEGMENT_SUFFIX) and parse_segment_path(rel) is not None:
                files[rel] = os.stat(full).st_size
            else:
                foreign.append(rel)
    return files, temps, foreign


def _recover_file(full: Path, fsync: bool) -> _Recovered | None:
    """Cut the file after its last whole fragment, fsync it, hash what is kept."""
    data = full.read_bytes()
    scan = scan_file(data)
    if not scan.fragments:
        return None
    kept = scan.fragments[-1].offset_bytes + scan.fragments[-1].size_bytes
    if kept < len(data):
        with open(full, "r+b") as handle:
            handle.truncate(kept)
            if fsync:
                os.fsync(handle.fileno())
    elif fsync:
        with open(full, "rb") as handle:
            os.fsync(handle.fileno())
    if fsync:
        fsync_directory(full.parent)
    return _Recovered(
        scan=scan,
        init=data[: scan.init_size_bytes],
        size_bytes=kept,
        original_size_bytes=len(data),
        sha256=hashlib.sha256(memoryview(data)[:kept]).hexdigest(),
    )


def _unlink_all(files: Sequence[Path], fsync: bool) -> None:
    directories: set[Path] = set()
    for file in files:
        try:
            file.unlink()
        except FileNotFoundError:
            continue
        directories.add(file.parent)
    if fsync:
        for directory in directories:
            fsync_directory(directory)
