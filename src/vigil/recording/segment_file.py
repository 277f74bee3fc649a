"""Writing one segment file: exclusive create, appends, fsync of file and directories.

Every method blocks; the segment writer runs them on ``segment_io`` threads. The SHA-256
of the file is computed while writing, so finishing a file never re-reads it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from vigil.recording.garbage import fsync_directory

_IOV_MAX = os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 1024


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
        self.error: OSError | None = None  # a failed append (set by segment_io): finish raises it

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
        self.append((first,))

    def append(self, parts: Sequence[bytes | memoryview]) -> None:
        """Append the concatenation of ``parts`` (one ``writev`` each time the kernel lets)."""
        assert self._fd is not None
        update = self._hash.update
        for part in parts:
            update(part)
        pending = list(parts)
        first = 0
        while first < len(pending):
            written = os.writev(self._fd, pending[first : first + _IOV_MAX])
            self.size_bytes += written
            while first < len(pending) and written >= len(pending[first]):
                written -= len(pending[first])  # went out whole
                first += 1
            if written:  # a short write (a signal, a nearly full disk): resume mid-part
                pending[first] = memoryview(pending[first])[written:]

    def finish(self) -> str:
        """fsync the file and its directories; returns the sha256 of the file."""
        assert self._fd is not None
        try:
            if self.error is not None:
                raise self.error
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
