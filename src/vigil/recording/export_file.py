"""Execute an :class:`~vigil.recording.export_plan.ExportPlan`: stream segment bytes into one
MP4 without re-encoding (blocking; run it in a worker thread).

Every source file is read whole, in bounded chunks, and its SHA-256 compared with its index
row before the export may be published: a segment altered on disk fails the export with
:class:`IntegrityError` naming the file (evidence integrity). Bytes that belong to the
export are copied as they are read; only each ``moof`` is rewritten (new decode time and
sequence number, :func:`vigil.protocols.fmp4.retime.retime_fragment`). The output goes to a
temporary name in the target directory, is fsynced, renamed into place and the directory
fsynced, so the final name only ever holds a whole, verified export.

Reading and hashing the sources runs in the calling thread; hashing and writing the output
runs in one helper thread, so the two SHA-256 passes proceed side by side (hashlib and file
I/O release the GIL) with a bounded number of chunks in flight.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.retime import retime_fragment
from vigil.recording.errors import ExportError, IntegrityError
from vigil.recording.export_plan import ExportPlan, PlannedSegment
from vigil.recording.garbage import fsync_directory

CHUNK_BYTES = 1024 * 1024
MAX_CHUNKS_IN_FLIGHT = 8
MAX_MOOF_BYTES = 4 * 1024 * 1024
_BOX_HEADER = struct.Struct("!I4s")

Progress = Callable[[int], None]  # bytes of the sources read so far


@dataclass(frozen=True, slots=True)
class ExportFileResult:
    sha256: str
    size_bytes: int


class _Output:
    """The export being written: hashes and appends chunks (runs in the helper thread)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.hash = hashlib.sha256()
        self.size_bytes = 0

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size_bytes += len(data)


class _Source:
    """One segment file read front to back, every byte hashed exactly once."""

    def __init__(self, handle: BinaryIO, label: str, progress: Callable[[int], None]) -> None:
        self.handle = handle
        self.label = label
        self.hash = hashlib.sha256()
        self.position = 0
        self._progress = progress

    def read_exact(self, size: int) -> bytes:
        data = self.handle.read(size)
        while data is not None and 0 < len(data) < size:  # a short read is not the end
            more = self.handle.read(size - len(data))
            if not more:
                break
            data += more
        if data is None or len(data) != size:
            raise IntegrityError(
                f"{self.label} ends before byte {self.position + size}, which its index row "
                "promises: the file was altered"
            )
        self.hash.update(data)
        self.position += size
        self._progress(size)
        return data

    def skip_to(self, offset: int) -> None:
        if offset < self.position:
            raise IntegrityError(f"{self.label}: fragment table goes backwards at {offset}")
        while self.position < offset:
            self.read_exact(min(CHUNK_BYTES, offset - self.position))


def write_export_file(
    plan: ExportPlan,
    pool_dirs: Mapping[str, Path],
    target: Path,
    *,
    fsync: bool = True,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> ExportFileResult:
    """Write the export to ``target``; see the module docstring. Setting ``stop`` ends the
    work at the next chunk with :class:`ExportError` (the platform is stopping)."""
    temporary = target.with_name(f".{target.name}.partial")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    output = _Output(fd)
    read_bytes = [0]

    def advance(size: int) -> None:
        if stop is not None and stop.is_set():
            raise ExportError("the export was interrupted")
        read_bytes[0] += size
        if progress is not None:
            progress(read_bytes[0])

    published = False
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-write") as pool:
            pending: deque[Future[None]] = deque()

            def emit(data: bytes) -> None:
                pending.append(pool.submit(output.write, data))
                while len(pending) > MAX_CHUNKS_IN_FLIGHT:
                    pending.popleft().result()

            try:
                sequence = 0
                for segment in plan.segments:
                    sequence = _copy_segment(segment, pool_dirs, emit, advance, sequence)
            finally:
                while pending:  # the writer's own errors surface here
                    pending.popleft().result()
        if fsync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(temporary, target)
        published = True
        if fsync:
            fsync_directory(target.parent)
    finally:
        if fd >= 0:
            os.close(fd)
        if not published:
            temporary.unlink(missing_ok=True)
    return ExportFileResult(output.hash.hexdigest(), output.size_bytes)


def _copy_segment(
    segment: PlannedSegment,
    pool_dirs: Mapping[str, Path],
    emit: Callable[[bytes], None],
    advance: Callable[[int], None],
    sequence: int,
) -> int:
    row = segment.row
    pool_dir = pool_dirs.get(row.pool)
    if pool_dir is None:
        raise ExportError(f"segment {row.id} is in the unknown storage pool {row.pool!r}")
    path = pool_dir / row.path
    label = f"segment {row.id} ({path})"
    try:
        handle = path.open("rb", buffering=0)
    except OSError as exc:
        raise ExportError(f"{label} cannot be read: {exc.strerror or exc}") from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size != row.size_bytes:
            raise IntegrityError(
                f"{label} holds {size} bytes but was recorded with {row.size_bytes}: "
                "the file was altered"
            )
        source = _Source(handle, label, advance)
        init = source.read_exact(row.init_size_bytes)
        if segment.writes_init:
            emit(init)
        for fragment in segment.fragments:
            source.skip_to(fragment.offset_bytes)
            header = source.read_exact(_BOX_HEADER.size)
            moof_size, kind = _BOX_HEADER.unpack(header)
            if kind != b"moof" or not 8 < moof_size <= min(fragment.size_bytes, MAX_MOOF_BYTES):
                raise IntegrityError(f"{label}: no moof at byte {fragment.offset_bytes}")
            moof = header + source.read_exact(moof_size - _BOX_HEADER.size)
            sequence += 1
            try:
                emit(retime_fragment(moof, fragment.output_decode_90k, sequence=sequence))
            except ParseError as exc:
                raise IntegrityError(
                    f"{label}: bad moof at {fragment.offset_bytes}: {exc}"
                ) from exc
            remaining = fragment.size_bytes - moof_size
            while remaining:
                chunk = source.read_exact(min(CHUNK_BYTES, remaining))
                emit(chunk)
                remaining -= len(chunk)
        source.skip_to(row.size_bytes)
        if source.hash.hexdigest() != row.sha256:
            raise IntegrityError(
                f"{label} does not match its recorded SHA-256 (recorded {row.sha256}, "
                f"read {source.hash.hexdigest()}): the file was altered after recording"
            )
    return sequence


def write_file_atomically(path: Path, data: bytes, *, fsync: bool = True) -> None:
    """Write a small file whole under a temporary name, fsync, rename (blocking)."""
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with temporary.open("wb") as handle:
            handle.write(data)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    if fsync:
        fsync_directory(path.parent)


def file_sha256(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size) of a file, read in bounded chunks (blocking)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
