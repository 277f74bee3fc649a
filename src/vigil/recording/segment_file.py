"""Writing one segment file: exclusive create, appends, fsync of file and directories.

Every method blocks; the segment writer calls them from worker threads, one hop per GOP.
The SHA-256 of the file is computed while writing, so finishing a file never re-reads it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vigil.recording.garbage import fsync_directory


class SegmentFile:
    """One segment file being written; every method blocks (call it from a thread)."""

    def __init__(self, pool_dir: Path, rel_path: str, *, fsync: bool) -> None:
        self.pool_dir = pool_dir
        self.rel_path = rel_path
        self.path = pool_dir / rel_path
        self.fsync = fsync
        self.size_bytes = 0
        self._hash = hashlib.sha256()
        self._fd: int | None = None
        self._new_dirs: list[Path] = []

    def create(self, first: bytes) -> None:
        directory = self.path.parent
        missing: list[Path] = []
        probe = directory
        while not probe.exists() and probe != self.pool_dir.parent:
            missing.append(probe)
            probe = probe.parent
        directory.mkdir(parents=True, exist_ok=True)
        # A new directory's own entry lives in its parent: fsync those parents at finish.
        self._new_dirs = [d.parent for d in reversed(missing)]
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.append(first)

    def append(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hash.update(data)
        self.size_bytes += len(data)

    def finish(self) -> str:
        """fsync the file and its directories; returns the sha256 of the file."""
        assert self._fd is not None
        try:
            if self.fsync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        if self.fsync:
            for directory in (*self._new_dirs, self.path.parent):
                fsync_directory(directory)
        return self._hash.hexdigest()

    def close_unfinished(self) -> None:
        """Stop writing without indexing (reconciliation will index what is whole)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
