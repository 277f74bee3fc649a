"""Where segment files are and how their byte ranges are read (DESIGN §6).

Playback, HLS and export read byte ranges named by the fragment table: the init segment at
the start of a file and one ``moof``+``mdat`` per GOP. Reads are blocking; async callers use
:meth:`SegmentReader.read_async`, which hops to a worker thread once per range (a GOP, about
a second of video), never per frame.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from vigil.recording.errors import SegmentFileError
from vigil.recording.index import SegmentRow


class SegmentReader:
    """The storage pools by name (``Settings.storage_pools``) and reads from their files."""

    def __init__(self, pools: Mapping[str, Path]) -> None:
        self._pools = {name: Path(path).resolve() for name, path in pools.items()}

    @property
    def pools(self) -> Mapping[str, Path]:
        return dict(self._pools)

    def path_of(self, row: SegmentRow) -> Path:
        """The file of a segment row; a row naming an unknown pool or a path outside its
        pool (a corrupt or forged row) raises SegmentFileError."""
        pool = self._pools.get(row.pool)
        if pool is None:
            raise SegmentFileError(f"segment {row.id} is in unknown pool {row.pool!r}")
        path = (pool / row.path).resolve()
        if not path.is_relative_to(pool):
            raise SegmentFileError(f"segment {row.id} names a path outside its pool")
        return path

    def read(self, row: SegmentRow, offset_bytes: int, size_bytes: int) -> bytes:
        """``size_bytes`` from ``offset_bytes`` of the segment's file (blocking)."""
        if offset_bytes < 0 or size_bytes < 0 or offset_bytes + size_bytes > row.size_bytes:
            raise SegmentFileError(
                f"range {offset_bytes}+{size_bytes} is outside segment {row.id} "
                f"of {row.size_bytes} bytes"
            )
        path = self.path_of(row)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise SegmentFileError(f"segment {row.id}: {exc.strerror}: {row.path}") from None
        try:
            data = os.pread(fd, size_bytes, offset_bytes)
        finally:
            os.close(fd)
        if len(data) != size_bytes:
            raise SegmentFileError(f"segment {row.id} is shorter than its row says ({row.path})")
        return data

    async def read_async(self, row: SegmentRow, offset_bytes: int, size_bytes: int) -> bytes:
        return await asyncio.to_thread(self.read, row, offset_bytes, size_bytes)
