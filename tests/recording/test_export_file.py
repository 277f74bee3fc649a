"""The export file pipeline: chunk buffers, the writer thread, and what reaches the disk."""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.export_recordings import T0, record_two_runs
from vigil.recording import export_file
from vigil.recording.errors import ExportError, IntegrityError
from vigil.recording.export_file import file_sha256, write_export_file
from vigil.recording.export_plan import ExportPlan, plan_export
from vigil.recording.index import SegmentRow

SMALL_CHUNK_BYTES = 4096


@dataclass(frozen=True)
class Recording:
    pool_dir: Path
    rows: list[SegmentRow]
    plan: ExportPlan

    @property
    def pools(self) -> dict[str, Path]:
        return {"default": self.pool_dir}

    def path(self, index: int) -> Path:
        return self.pool_dir / self.rows[index].path


@pytest.fixture
async def recording(engine: AsyncEngine, tmp_path: Path) -> Recording:
    rows = await record_two_runs(engine, tmp_path / "pool")
    plan = plan_export(rows[0].channel_id, T0, T0 + timedelta(seconds=14), rows)
    return Recording(tmp_path / "pool", rows, plan)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks far smaller than a segment, so every file spans many buffers and the ring of
    buffers wraps many times."""
    monkeypatch.setattr(export_file, "CHUNK_BYTES", SMALL_CHUNK_BYTES)


def _leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".partial"))


def _export_while(recording: Recording, target: Path, on_progress: Callable[[int], None]) -> None:
    write_export_file(recording.plan, recording.pools, target, fsync=False, progress=on_progress)


@pytest.mark.parametrize("chunk_bytes", [1000, SMALL_CHUNK_BYTES, 1024 * 1024])
async def test_output_and_its_hash_do_not_depend_on_chunking_or_writeback(
    recording: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    reference = write_export_file(recording.plan, recording.pools, tmp_path / "ref.mp4")
    monkeypatch.setattr(export_file, "CHUNK_BYTES", chunk_bytes)
    monkeypatch.setattr(export_file, "WRITEBACK_BYTES", 8192)  # the early writeback path too
    target = tmp_path / "out.mp4"
    result = write_export_file(recording.plan, recording.pools, target, fsync=True)
    assert target.read_bytes() == (tmp_path / "ref.mp4").read_bytes()
    assert (result.sha256, result.size_bytes) == file_sha256(target)  # the file's own hash
    assert result == reference
    assert result.size_bytes == recording.plan.output_size_bytes


def _evict(paths: list[Path]) -> None:
    """Write the files back and drop them from the page cache: the next read is from disk."""
    os.sync()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


@pytest.mark.parametrize("chunk_bytes", [1000, SMALL_CHUNK_BYTES])
async def test_sources_read_from_disk_go_through_the_reading_thread_unchanged(
    recording: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_bytes: int
) -> None:
    reference = write_export_file(recording.plan, recording.pools, tmp_path / "ref.mp4")
    monkeypatch.setattr(export_file, "CHUNK_BYTES", chunk_bytes)
    read_ahead = []
    real_read_into = export_file._read_into

    def counted(fd: int, view: memoryview, offset: int) -> memoryview:
        read_ahead.append(threading.current_thread().name)
        return real_read_into(fd, view, offset)

    monkeypatch.setattr(export_file, "_read_into", counted)
    sources = [recording.path(i) for i in range(len(recording.rows))]
    _evict(sources)
    target = tmp_path / "out.mp4"
    assert write_export_file(recording.plan, recording.pools, target) == reference
    assert target.read_bytes() == (tmp_path / "ref.mp4").read_bytes()
    # Evicted sources were read ahead on the reading thread (a page the kernel still held
    # on another core's LRU list may survive the eviction: at least one file, not all),
    # cached ones on demand on the calling thread.
    assert read_ahead
    assert any(name.startswith("export-read") for name in read_ahead)
    read_ahead.clear()
    write_export_file(recording.plan, recording.pools, target)
    assert read_ahead
    assert not any(name.startswith("export-read") for name in read_ahead)


async def test_a_source_altered_during_the_export_fails_it(
    recording: Recording, tmp_path: Path, small_chunks: None
) -> None:
    last = len(recording.rows) - 1
    victim = recording.path(last)
    original = victim.read_bytes()
    offset = recording.rows[last].fragments[0].offset_bytes + 400

    def alter_once(read_bytes: int) -> None:
        if victim.read_bytes() == original:  # while the first segments are being copied
            with victim.open("r+b") as handle:
                handle.seek(offset)
                handle.write(bytes([original[offset] ^ 0x01]))

    target = tmp_path / "out.mp4"
    with pytest.raises(IntegrityError, match=f"segment {recording.rows[last].id} .*altered"):
        _export_while(recording, target, alter_once)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


async def test_a_source_truncated_while_it_is_read_fails_the_export(
    recording: Recording, tmp_path: Path, small_chunks: None
) -> None:
    victim = recording.path(1)
    first_size = recording.rows[0].size_bytes
    cut = recording.rows[1].size_bytes // 2

    def truncate_once(read_bytes: int) -> None:
        if read_bytes > first_size and victim.stat().st_size > cut:  # inside segment 1
            os.truncate(victim, cut)

    target = tmp_path / "out.mp4"
    with pytest.raises(IntegrityError, match=f"segment {recording.rows[1].id} .*ends before"):
        _export_while(recording, target, truncate_once)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


async def test_a_read_error_names_the_segment_and_leaves_nothing(
    recording: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    real_preadv = os.preadv
    calls = [0]

    def failing_preadv(fd: int, buffers: list[memoryview], offset: int, flags: int = 0) -> int:
        calls[0] += 1
        if calls[0] >= 20:  # the disk died: every read from here on fails
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return real_preadv(fd, buffers, offset, flags)

    monkeypatch.setattr(os, "preadv", failing_preadv)
    target = tmp_path / "out.mp4"
    with pytest.raises(ExportError, match=r"segment \d+ \(.*\) cannot be read: Input/output"):
        write_export_file(recording.plan, recording.pools, target, fsync=False)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


async def test_a_write_error_fails_the_export_and_leaves_nothing(
    recording: Recording, tmp_path: Path, small_chunks: None
) -> None:
    target = tmp_path / "out.mp4"
    (tmp_path / ".out.mp4.partial").symlink_to("/dev/full")  # every write: ENOSPC
    with pytest.raises(ExportError, match="cannot be written: No space left"):
        write_export_file(recording.plan, recording.pools, target, fsync=True)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


async def test_a_missing_later_segment_is_named_when_reached(
    recording: Recording, tmp_path: Path
) -> None:
    recording.path(2).unlink()
    target = tmp_path / "out.mp4"
    with pytest.raises(ExportError, match=f"segment {recording.rows[2].id} .*cannot be read"):
        write_export_file(recording.plan, recording.pools, target, fsync=False)
    assert not target.exists()
    assert _leftovers(tmp_path) == []


async def test_a_stalled_writer_stops_the_reading_within_the_bound(
    recording: Recording, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_chunks: None
) -> None:
    """The reader runs ahead of the writer by a bounded number of chunks, never by the
    whole export, and picks up again when the writer does."""
    release = threading.Event()
    first_write = threading.Event()
    real_write = export_file._Output.write

    def stalled_write(self: export_file._Output, data: bytes | memoryview) -> None:
        first_write.set()
        release.wait(timeout=30)
        real_write(self, data)

    monkeypatch.setattr(export_file._Output, "write", stalled_write)
    read_bytes = [0]
    result: list[object] = []

    def run() -> None:
        def track(count: int) -> None:
            read_bytes[0] = count

        try:
            result.append(_export_while(recording, tmp_path / "out.mp4", track))
        except BaseException as exc:  # handed to the test thread
            result.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert first_write.wait(timeout=10)
    settled = -1
    while settled != read_bytes[0]:  # until the reader is blocked on the writer
        settled = read_bytes[0]
        threading.Event().wait(0.2)
    release.set()
    worker.join(timeout=30)
    assert result == [None]
    assert (tmp_path / "out.mp4").stat().st_size == recording.plan.output_size_bytes
    # Each write waiting holds at most one chunk or one box: the init or a moof.
    moofs = []
    for index, row in enumerate(recording.rows):
        data = recording.path(index).read_bytes()
        moofs += [int.from_bytes(data[e.offset_bytes : e.offset_bytes + 4]) for e in row.fragments]
    largest = max(SMALL_CHUNK_BYTES, *moofs, *(row.init_size_bytes for row in recording.rows))
    bound = (export_file.MAX_CHUNKS_IN_FLIGHT + 2) * largest
    assert settled <= bound
    assert recording.plan.read_size_bytes > 2 * bound  # the bound is what stopped it
