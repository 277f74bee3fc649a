"""Execute an :class:`~vigil.recording.export_plan.ExportPlan`: stream segment bytes into one
MP4 without re-encoding (blocking; run it in a worker thread).

Every source file is read whole, in bounded chunks, and its SHA-256 compared with its index
row before the export may be published: a segment altered on disk fails the export with
:class:`IntegrityError` naming the file (evidence integrity). Bytes that belong to the
export are copied as they are read; only each ``moof`` is rewritten (new decode time and
sequence number, :func:`vigil.protocols.fmp4.retime.retime_fragment`). The output goes to a
temporary name in the target directory, is fsynced, renamed into place and the directory
fsynced, so the final name only ever holds a whole, verified export.

Two SHA-256 passes (sources for the check, output for the manifest) bound the throughput, so
they run on two threads over one ring of preallocated chunk buffers (hashlib and file I/O
release the GIL): the calling thread hashes each chunk of a source and hands the bytes that
belong to the export to a writing thread, straight from the buffer, which hashes the output
and writes it. A source not in the page cache is read by a third thread a few chunks ahead
(``READ_AHEAD_CHUNKS``), so waits for the disk stay off the hashing (from disk: 0.80-0.84
of a plain copy against 0.51 when the kernel's readahead was left to it alone,
``bench/recording_export.py``); a cached one is read just in time on the calling thread,
where the third thread only competed for the cores. A buffer is read into again only once
the writes from it are done, and at most ``MAX_CHUNKS_IN_FLIGHT`` writes wait, so memory
stays bounded however long the export. Reads are not memory-mapped: a source truncated
under a mapping would kill the process with SIGBUS instead of failing the export.

On the output, writeback is started every ``WRITEBACK_BYTES``
while the hashing goes on, so the final fsync finds little left to write (a 200 MB export
on the development machine: 13-17 ms instead of 125-136 ms) and an export never piles
up gigabytes of dirty pages that would stall the recorders' own fsyncs on the same disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from vigil.protocols.errors import ParseError
from vigil.protocols.fmp4.retime import retime_fragment
from vigil.recording.errors import ExportError, IntegrityError
from vigil.recording.export_plan import ExportPlan, PlannedSegment
from vigil.recording.garbage import fsync_directory

CHUNK_BYTES = 1024 * 1024
MAX_CHUNKS_IN_FLIGHT = 8
READ_AHEAD_CHUNKS = 4
WRITEBACK_BYTES = 16 * 1024 * 1024
MAX_MOOF_BYTES = 4 * 1024 * 1024
_BOX_HEADER = struct.Struct("!I4s")
_RWF_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)  # Linux 4.14+

Progress = Callable[[int], None]  # bytes of the sources read so far


@dataclass(frozen=True, slots=True)
class ExportFileResult:
    sha256: str
    size_bytes: int


def _advise(fd: int, offset: int, length: int, advice: str) -> None:
    """A page-cache hint (``advice`` names an ``os.POSIX_FADV_*`` constant); where the
    platform lacks it or refuses it, nothing changes but speed."""
    value = getattr(os, advice, None)
    if value is not None and hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, offset, length, value)


class _Output:
    """The export being written: hashes and appends chunks (runs on the writing thread)."""

    def __init__(self, fd: int, *, writeback: bool) -> None:
        self.fd = fd
        self.hash = hashlib.sha256()
        self.size_bytes = 0
        self._writeback = writeback
        self._started_bytes = 0  # output bytes whose writeback has been started

    def write(self, data: bytes | memoryview) -> None:
        self.hash.update(data)
        view = memoryview(data)
        try:
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
        except OSError as exc:
            raise ExportError(f"the export cannot be written: {exc.strerror or exc}") from exc
        self.size_bytes += len(data)
        if self._writeback and self.size_bytes - self._started_bytes >= WRITEBACK_BYTES:
            # On DONTNEED, Linux starts asynchronous writeback of the range's dirty pages and
            # drops only clean ones (none: the range was just written, so it stays cached).
            # Only a hint: the fsync at the end stays the guarantee.
            pending = self.size_bytes - self._started_bytes
            _advise(self.fd, self._started_bytes, pending, "POSIX_FADV_DONTNEED")
            self._started_bytes = self.size_bytes


class _Chunks:
    """The preallocated read buffers and the queue of writes to the writing thread."""

    def __init__(self, pool: ThreadPoolExecutor, output: _Output) -> None:
        # Chunks being read ahead, the one being hashed, and those waiting to be written.
        count = READ_AHEAD_CHUNKS + 1 + MAX_CHUNKS_IN_FLIGHT
        self._buffers = [memoryview(bytearray(CHUNK_BYTES)) for _ in range(count)]
        self._writes: list[Future[None] | None] = [None] * count  # last write from each
        self._next = 0
        self._pending: deque[Future[None]] = deque()
        self._pool = pool
        self._output = output

    def take(self) -> tuple[int, memoryview]:
        """A buffer that no waiting write still reads from, and its number."""
        index = self._next
        self._next = (index + 1) % len(self._buffers)
        write = self._writes[index]
        if write is not None:
            self._writes[index] = None
            write.result()
        return index, self._buffers[index]

    def emit(self, data: bytes | memoryview, buffer: int | None = None) -> None:
        """Queue ``data`` (a view of ``buffer``, if given) for the output, in order; the
        buffer is not handed out again before this write is done."""
        write = self._pool.submit(self._output.write, data)
        self._pending.append(write)
        if buffer is not None:
            self._writes[buffer] = write
        while len(self._pending) > MAX_CHUNKS_IN_FLIGHT:
            self._pending.popleft().result()

    def drain(self) -> None:
        """Wait for every queued write; the first write error is raised here."""
        while self._pending:
            self._pending.popleft().result()

    def abandon(self) -> None:
        """Drop the queued writes after a failure: the file is discarded, and an error the
        writes meet on the way must not hide the one that ended the export."""
        while self._pending:
            self._pending.popleft().cancel()


class _ReadAhead:
    """One source file read front to back. A file whose first chunk is in the page cache is
    read just in time on the hashing thread (the chunk is still in that core's cache when
    it is hashed, and no third thread competes for the two cores the hash passes need); any
    other file is read on the reading thread ``READ_AHEAD_CHUNKS`` chunks ahead, so waits
    for the disk leave the hashing."""

    def __init__(
        self, handle: io.FileIO, size: int, reader: ThreadPoolExecutor, chunks: _Chunks
    ) -> None:
        self._fd = handle.fileno()
        self._size = size
        self._offset = 0  # of the next chunk to read or request
        self._reader: ThreadPoolExecutor | None = reader
        self._chunks = chunks
        self._reads: deque[tuple[int, Future[memoryview]]] = deque()
        self._buffer = -1
        self._current = memoryview(b"")
        if _RWF_NOWAIT is not None and size:
            index, buffer = chunks.take()
            view = buffer[: min(size, len(buffer))]
            if _read_cached(self._fd, view) == len(view):
                self._reader = None  # cached: read on demand from here on
                self._buffer, self._current, self._offset = index, view, len(view)
        if self._reader is not None:
            for _ in range(READ_AHEAD_CHUNKS):
                self._request(self._reader)

    def _next_view(self) -> tuple[int, memoryview, int]:
        index, buffer = self._chunks.take()
        view = buffer[: min(self._size - self._offset, len(buffer))]
        offset, self._offset = self._offset, self._offset + len(view)
        return index, view, offset

    def _request(self, reader: ThreadPoolExecutor) -> None:
        if self._offset < self._size:
            index, view, offset = self._next_view()
            self._reads.append((index, reader.submit(_read_into, self._fd, view, offset)))

    def take(self, most: int) -> tuple[int, memoryview]:
        """Up to ``most`` of the next bytes (none at the end) and the buffer holding them."""
        if not self._current:
            if self._reader is None:
                if self._offset < self._size:
                    index, view, offset = self._next_view()
                    self._buffer, self._current = index, _read_into(self._fd, view, offset)
            elif self._reads:
                self._buffer, read = self._reads.popleft()
                self._current = read.result()
                self._request(self._reader)
        taken, self._current = self._current[:most], self._current[most:]
        return self._buffer, taken

    def close(self) -> None:
        """Let reads still under way finish (the file is closed next)."""
        for _, read in self._reads:
            with contextlib.suppress(Exception):
                read.result()
        self._reads.clear()


def _read_cached(fd: int, view: memoryview) -> int:
    """Bytes of the file's start read into ``view`` from the page cache without waiting
    for the disk (``RWF_NOWAIT``; 0 where nothing is cached or the kernel cannot say)."""
    assert _RWF_NOWAIT is not None
    try:
        return os.preadv(fd, [view], 0, _RWF_NOWAIT)
    except OSError:  # EAGAIN: not cached; a real error shows again on the blocking read
        return 0


def _read_into(fd: int, view: memoryview, offset: int) -> memoryview:
    """Fill ``view`` from ``offset`` of the file; shorter only at the end of the file."""
    filled = 0
    while filled < len(view):
        count = os.preadv(fd, [view[filled:]], offset + filled)
        if not count:  # a short read is not the end; only 0 is
            break
        filled += count
    return view[:filled]


class _Source:
    """One segment file read front to back, every byte hashed exactly once."""

    def __init__(self, ahead: _ReadAhead, label: str, progress: Callable[[int], None]) -> None:
        self.ahead = ahead
        self.label = label
        self.hash = hashlib.sha256()
        self.position = 0
        self._progress = progress

    def _next(self, most: int) -> tuple[int, memoryview]:
        """Up to ``most`` next bytes, hashed and counted."""
        try:
            buffer, part = self.ahead.take(most)
        except OSError as exc:
            raise ExportError(f"{self.label} cannot be read: {exc.strerror or exc}") from exc
        if not part:
            raise IntegrityError(
                f"{self.label} ends before byte {self.position + most}, which its index row "
                "promises: the file was altered"
            )
        self.hash.update(part)
        self.position += len(part)
        self._progress(len(part))
        return buffer, part

    def read_exact(self, size: int) -> bytes:
        """``size`` bytes as a new object (box headers, moofs, init: small)."""
        data = bytearray()
        while len(data) < size:
            data += self._next(size - len(data))[1]
        return bytes(data)

    def copy(self, size: int, chunks: _Chunks) -> None:
        """Hand the next ``size`` bytes to the output straight from the read buffers."""
        while size:
            buffer, part = self._next(size)
            chunks.emit(part, buffer)
            size -= len(part)

    def skip_to(self, offset: int) -> None:
        """Read (and hash) up to ``offset`` without copying."""
        if offset < self.position:
            raise IntegrityError(f"{self.label}: fragment table goes backwards at {offset}")
        while self.position < offset:
            self._next(offset - self.position)


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
    output = _Output(fd, writeback=fsync)
    read_bytes = [0]

    def advance(size: int) -> None:
        if stop is not None and stop.is_set():
            raise ExportError("the export was interrupted")
        read_bytes[0] += size
        if progress is not None:
            progress(read_bytes[0])

    published = False
    try:
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-write") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-read") as reader,
        ):
            chunks = _Chunks(pool, output)
            try:
                sequence = 0
                for segment in plan.segments:
                    sequence = _copy_segment(segment, pool_dirs, chunks, reader, advance, sequence)
                chunks.drain()  # the writer's own errors surface here
            except BaseException:
                chunks.abandon()
                raise
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
    chunks: _Chunks,
    reader: ThreadPoolExecutor,
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
        handle = io.FileIO(path, "rb")
    except OSError as exc:
        raise ExportError(f"{label} cannot be read: {exc.strerror or exc}") from exc
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size != row.size_bytes:
            raise IntegrityError(
                f"{label} holds {size} bytes but was recorded with {row.size_bytes}: "
                "the file was altered"
            )
        _advise(handle.fileno(), 0, 0, "POSIX_FADV_SEQUENTIAL")  # a wider readahead
        ahead = _ReadAhead(handle, size, reader, chunks)
        try:
            source = _Source(ahead, label, advance)
            init = source.read_exact(row.init_size_bytes)
            if segment.writes_init:
                chunks.emit(init)
            for fragment in segment.fragments:
                source.skip_to(fragment.offset_bytes)
                header = source.read_exact(_BOX_HEADER.size)
                moof_size, kind = _BOX_HEADER.unpack(header)
                if kind != b"moof" or not 8 < moof_size <= min(fragment.size_bytes, MAX_MOOF_BYTES):
                    raise IntegrityError(f"{label}: no moof at byte {fragment.offset_bytes}")
                moof = header + source.read_exact(moof_size - _BOX_HEADER.size)
                sequence += 1
                try:
                    chunks.emit(
                        retime_fragment(moof, fragment.output_decode_90k, sequence=sequence)
                    )
                except ParseError as exc:
                    raise IntegrityError(
                        f"{label}: bad moof at {fragment.offset_bytes}: {exc}"
                    ) from exc
                source.copy(fragment.size_bytes - moof_size, chunks)
            source.skip_to(row.size_bytes)
            if source.hash.hexdigest() != row.sha256:
                raise IntegrityError(
                    f"{label} does not match its recorded SHA-256 (recorded {row.sha256}, "
                    f"read {source.hash.hexdigest()}): the file was altered after recording"
                )
        finally:
            ahead.close()
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
