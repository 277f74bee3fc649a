"""Storage pools: directories recordings are written to, their quotas and usage (DESIGN §6).

A pool's usage is the sum of its segment sizes in the index (what retention can free),
beside the free space of its filesystem (``os.statvfs``). A pool is *full* when its quota
is used up or its filesystem is down to ``min_free_bytes``; the segment writer then refuses
to start a new file (``StorageFullError``) until retention frees space.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import segments
from vigil.settings import StoragePool

DiskFree = Callable[[Path], tuple[int, int]]  # directory → (total bytes, free bytes)


@dataclass(frozen=True, slots=True)
class PoolUsage:
    name: str
    path: Path
    quota_bytes: int  # 0: no quota, the filesystem is the limit
    used_bytes: int  # sum of the pool's indexed segment sizes
    segments: int
    fs_free_bytes: int  # available to this process on the pool's filesystem
    fs_total_bytes: int
    min_free_bytes: int

    @property
    def room_bytes(self) -> int:
        """Bytes that may still be written (negative: over quota or below the free floor)."""
        room = self.fs_free_bytes - self.min_free_bytes
        if self.quota_bytes:
            room = min(room, self.quota_bytes - self.used_bytes)
        return room

    @property
    def full(self) -> bool:
        return self.room_bytes <= 0

    @property
    def capacity_bytes(self) -> int:
        """What the pool may hold: its quota, or its filesystem when smaller or unlimited."""
        if self.quota_bytes:
            return min(self.fs_total_bytes, self.quota_bytes)
        return self.fs_total_bytes

    @property
    def used_fraction(self) -> float:
        """Share of the quota (or of the filesystem) in use, 0..1+."""
        limit = self.quota_bytes or self.fs_total_bytes
        return self.used_bytes / limit if limit else 0.0


def pool_dirs(pools: Iterable[StoragePool]) -> dict[str, Path]:
    """Pool name → directory (what garbage collection and playback resolve paths with)."""
    return {pool.name: pool.path for pool in pools}


def disk_free(directory: Path) -> tuple[int, int]:
    """(total bytes, free bytes for unprivileged writers) of the filesystem holding directory."""
    probe = directory
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent  # the pool directory is created on the first write
    stat = os.statvfs(probe)
    return stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize


async def pool_usage(
    engine: AsyncEngine,
    pools: Sequence[StoragePool],
    *,
    min_free_bytes: int = 0,
    free_of: DiskFree = disk_free,
) -> dict[str, PoolUsage]:
    """Usage of every pool: indexed bytes per pool plus filesystem free space."""
    s = segments.c
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(s.pool, sa.func.coalesce(sa.func.sum(s.size_bytes), 0), sa.func.count())
                .where(s.pool.in_([p.name for p in pools]))
                .group_by(s.pool)
            )
        ).all()
    indexed = {str(name): (int(total), int(count)) for name, total, count in rows}
    out: dict[str, PoolUsage] = {}
    for pool in pools:
        total, free = await asyncio.to_thread(free_of, pool.path)
        used, count = indexed.get(pool.name, (0, 0))
        out[pool.name] = PoolUsage(
            name=pool.name,
            path=pool.path,
            quota_bytes=pool.quota_bytes,
            used_bytes=used,
            segments=count,
            fs_free_bytes=free,
            fs_total_bytes=total,
            min_free_bytes=min_free_bytes,
        )
    return out


class PoolRoom:
    """Answers "may a new segment file start in this pool?" for many writers cheaply.

    Usage is re-read at most every ``refresh_s`` (one grouped query and a statvfs per pool),
    and bytes written since are counted by the writers through :meth:`note_written`, so a
    hundred channels rotating together cost one query, not a hundred.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        pools: Sequence[StoragePool],
        *,
        min_free_bytes: int = 0,
        refresh_s: float = 5.0,
    ) -> None:
        self.engine = engine
        self.pools = list(pools)
        self.min_free_bytes = min_free_bytes
        self.refresh_s = refresh_s
        self.usage: dict[str, PoolUsage] = {}
        self._read_at = float("-inf")
        self._written_since: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def note_written(self, pool_name: str, size_bytes: int) -> None:
        self._written_since[pool_name] = self._written_since.get(pool_name, 0) + size_bytes

    async def refresh(self) -> dict[str, PoolUsage]:
        async with self._lock:
            self.usage = await pool_usage(
                self.engine, self.pools, min_free_bytes=self.min_free_bytes
            )
            self._read_at = time.monotonic()
            self._written_since.clear()
            return self.usage

    async def has_room(self, pool_name: str) -> bool:
        if time.monotonic() - self._read_at > self.refresh_s or pool_name not in self.usage:
            await self.refresh()
        usage = self.usage.get(pool_name)
        if usage is None:
            return False
        return usage.room_bytes - self._written_since.get(pool_name, 0) > 0
