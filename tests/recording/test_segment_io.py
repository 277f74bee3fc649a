"""Segment-file threads: posted appends land in order, errors reach the writer, backlog drains."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from vigil.recording.segment_file import SegmentFile
from vigil.recording.segment_io import SegmentIo


@pytest.fixture
def io() -> Iterator[SegmentIo]:
    threads = SegmentIo(2, batch_s=0.01, max_backlog_bytes=256 * 1024)
    yield threads
    threads.close()


async def _created(io: SegmentIo, pool: Path, name: str, first: bytes) -> SegmentFile:
    file = SegmentFile(pool, f"{name}/20261121/{name}.mp4", fsync=True)
    await io.call(file, name, partial(file.create, first))
    return file


async def test_posted_appends_are_written_in_order_before_finish(
    io: SegmentIo, tmp_path: Path
) -> None:
    files = {name: await _created(io, tmp_path, name, name.encode()) for name in "abcdef"}
    expected = {name: bytearray(name.encode()) for name in files}
    for round_ in range(40):
        for name, file in files.items():
            # Parts as the fMP4 writer gives them: small headers and views of frames.
            frame = os.urandom(3000 + round_ * 17)
            parts: list[bytes | memoryview] = [b"hdr", memoryview(frame)[5:], b""]
            io.append(file, parts, sum(len(p) for p in parts), name)
            for part in parts:
                expected[name] += part
    for name, file in files.items():
        digest = await io.call(file, name, file.finish)
        assert file.path.read_bytes() == expected[name]
        assert digest == hashlib.sha256(expected[name]).hexdigest()
        assert file.size_bytes == len(expected[name])
    assert io.backlog_bytes == 0


async def test_a_failed_append_is_raised_to_the_writer(io: SegmentIo, tmp_path: Path) -> None:
    file = await _created(io, tmp_path, "a", b"init")
    # Swap in a read-only descriptor of the same file: the kernel refuses every write (EBADF).
    read_only = os.open(file.path, os.O_RDONLY)
    await io.call(file, "a", partial(os.close, file._fd))  # type: ignore[arg-type]
    file._fd = read_only
    io.append(file, [b"x" * 5000], 5000, "a")
    with pytest.raises(OSError, match="Bad file descriptor"):
        await io.call(file, "a", file.finish)
    with pytest.raises(OSError, match="Bad file descriptor"):
        io.append(file, [b"y"], 1, "a")  # and the next append is refused at once
    assert io.backlog_bytes == 0


async def test_backlog_is_bounded_and_drains(io: SegmentIo, tmp_path: Path) -> None:
    file = await _created(io, tmp_path, "a", b"")
    chunk = os.urandom(64 * 1024)
    for _ in range(32):  # 2 MiB posted against a 256 KiB bound
        io.append(file, [chunk], len(chunk), "a")
        if io.backlog_bytes > io.max_backlog_bytes:
            await asyncio.wait_for(io.wait_for_room(), 5.0)
            assert io.backlog_bytes <= io.max_backlog_bytes
    await io.call(file, "a", file.finish)
    assert file.path.stat().st_size == 32 * len(chunk)
    assert io.backlog_bytes == 0


async def test_a_waiter_that_left_does_not_break_the_thread(io: SegmentIo, tmp_path: Path) -> None:
    file = await _created(io, tmp_path, "a", b"init")
    waiter = asyncio.create_task(io.call(file, "a", lambda: "done"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    # The thread goes on serving the file: a later call still answers.
    assert await asyncio.wait_for(io.call(file, "a", file.finish), 5.0)


async def test_short_writes_resume_mid_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel may write less than asked (a signal, a nearly full disk)."""
    real_writev = os.writev

    def short_writev(fd: int, buffers: list[bytes | memoryview]) -> int:
        return real_writev(fd, [memoryview(buffers[0])[:700]])

    monkeypatch.setattr(os, "writev", short_writev)
    file = SegmentFile(tmp_path, "a/a.mp4", fsync=False)
    file.create(b"")
    parts: list[bytes | memoryview] = [b"", os.urandom(2500), b"ab", memoryview(os.urandom(900))]
    file.append(parts)
    assert file.finish() == hashlib.sha256(b"".join(parts)).hexdigest()
    assert file.path.read_bytes() == b"".join(parts)
