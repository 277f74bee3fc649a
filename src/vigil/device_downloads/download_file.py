"""The MP4 of one device download being written: temporary name, appends, fsync, rename.

Every method blocks; the service calls them from worker threads, one hop per group of
pictures. The SHA-256 is computed while writing, so finishing never re-reads the file. The
final name appears only for a whole, fsynced file; a stop in between leaves a dot-named
``.partial`` file that the next start removes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from vigil.recording.garbage import fsync_directory

MP4_SUFFIX = ".mp4"
PARTIAL_SUFFIX = ".partial"


def partial_path(final: Path) -> Path:
    return final.with_name(f".{final.name}{PARTIAL_SUFFIX}")


def remove_partials(directory: Path) -> int:
    """Remove files a stopped process left half-written; returns how many."""
    removed = 0
    for leftover in directory.glob(f".*{PARTIAL_SUFFIX}"):
        leftover.unlink(missing_ok=True)
        removed += 1
    return removed


class DownloadFile:
    """One download's MP4 under its temporary name until :meth:`finish` renames it."""

    def __init__(self, final: Path, *, fsync: bool) -> None:
        self.final = final
        self.partial = partial_path(final)
        self.fsync = fsync
        self.size_bytes = 0
        self._hash = hashlib.sha256()
        self._fd: int | None = None

    def create(self) -> None:
        self.final.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
        self._fd = os.open(self.partial, flags, 0o640)

    def append(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._hash.update(data)
        self.size_bytes += len(data)

    def finish(self) -> str:
        """fsync, rename to the final name, fsync the directory; the file's SHA-256."""
        assert self._fd is not None
        try:
            if self.fsync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        os.replace(self.partial, self.final)
        if self.fsync:
            fsync_directory(self.final.parent)
        return self._hash.hexdigest()

    def discard(self) -> None:
        """Give up: close and remove the temporary file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.partial.unlink(missing_ok=True)
