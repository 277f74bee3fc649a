"""Blocking segment-file work for every channel on a few long-lived threads (DESIGN §6).

A recorder appends one fragment per GOP to each channel's open file. Handing each append
to the event loop's executor (``asyncio.to_thread``) costs a future, a context copy, a
thread wake-up and a wake-up of the loop when it is done; at hundreds of channels that
was a tenth of the recorder's CPU on one core. Here appends are *posted*: queued to the
thread that owns the file (chosen by channel, so one file's work stays in order) without
waiting and without waking the loop afterwards. The thread sleeps ``batch_s`` after a
wake-up and then takes everything queued, so a thread wakes at most 1 / ``batch_s``
times a second however many channels write. Operations whose result is needed (create,
finish with its fsync and hash, close) are awaited and run after the file's queued
appends.

An append that fails (a full disk, an I/O error) is remembered on its file: later appends
to it are skipped and the next awaited operation, or the next :meth:`SegmentIo.append`,
raises the error, so it reaches the channel's writer within one GOP. Bytes queued but not
yet written are bounded: :meth:`SegmentIo.wait_for_room` lets a writer wait while the
backlog is over its limit (a disk slower than the streams then shows up as the recorder
falling behind, with its alarm, instead of as memory growth).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import queue
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any, TypeVar

from vigil.recording.segment_file import SegmentFile

T = TypeVar("T")

THREADS = 2
BATCH_S = 0.05
MAX_BACKLOG_BYTES = 64 * 1024 * 1024
ROOM_POLL_S = 0.01

# A queued job: (file, parts, size) for an append; (file, call, loop, future) for the rest.
_Job = tuple[Any, ...]
_STOP: _Job = ()


class SegmentIo:
    """Threads that run segment-file operations; see the module docstring."""

    def __init__(
        self,
        threads: int = THREADS,
        *,
        batch_s: float = BATCH_S,
        max_backlog_bytes: int = MAX_BACKLOG_BYTES,
    ) -> None:
        self.batch_s = batch_s
        self.max_backlog_bytes = max_backlog_bytes
        self._queues: list[queue.SimpleQueue[_Job]] = [queue.SimpleQueue() for _ in range(threads)]
        # Bytes posted (written by the loop's thread) and written (by each worker): one
        # writer per counter, so neither needs a lock.
        self._posted = [0] * threads
        self._written = [0] * threads
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def backlog_bytes(self) -> int:
        return sum(self._posted) - sum(self._written)

    def append(
        self, file: SegmentFile, parts: list[bytes | memoryview], size_bytes: int, shard: str
    ) -> None:
        """Queue ``parts`` (``size_bytes`` in all) for the end of ``file``; raises an
        earlier append's error."""
        if file.error is not None:
            raise file.error
        index = self._shard(shard)
        self._posted[index] += size_bytes
        self._queues[index].put((file, parts, size_bytes))

    async def call(self, file: SegmentFile, shard: str, work: Callable[[], T]) -> T:
        """Run ``work`` on the file's thread after its queued appends; returns its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queues[self._shard(shard)].put((file, work, loop, future))
        return await future

    async def wait_for_room(self) -> None:
        """Wait while more than ``max_backlog_bytes`` are queued and not yet written."""
        # Polled: signalling the loop from the threads after every write would bring back
        # the per-append wake-up this module exists to avoid; the wait itself is rare.
        while self.backlog_bytes > self.max_backlog_bytes:  # noqa: ASYNC110
            await asyncio.sleep(ROOM_POLL_S)

    def close(self) -> None:
        """Stop the threads once their queues are done (blocks)."""
        with self._lock:
            threads, self._threads = self._threads, []
        for q in self._queues[: len(threads)]:
            q.put(_STOP)
        for thread in threads:
            thread.join()

    def _shard(self, key: str) -> int:
        if not self._threads:
            self._start()
        return zlib.crc32(key.encode()) % len(self._queues)

    def _start(self) -> None:
        with self._lock:
            if self._threads:
                return
            for index, jobs in enumerate(self._queues):
                thread = threading.Thread(
                    target=self._work, args=(index, jobs), name=f"segment-io-{index}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self, index: int, jobs: queue.SimpleQueue[_Job]) -> None:
        while True:
            first = jobs.get()
            if len(first) == 3 and self.batch_s > 0:
                time.sleep(self.batch_s)  # let other channels' appends gather
            batch = itertools.chain((first,), _drain(jobs))
            for job in batch:
                if not job:
                    return
                if len(job) == 3:
                    self._written[index] += _append(*job)
                else:
                    _run(*job)


def _drain(jobs: queue.SimpleQueue[_Job]) -> list[_Job]:
    taken: list[_Job] = []
    while True:
        try:
            taken.append(jobs.get_nowait())
        except queue.Empty:
            return taken


def _append(file: SegmentFile, parts: list[bytes | memoryview], size_bytes: int) -> int:
    if file.error is None:
        try:
            file.append(parts)
        except OSError as exc:
            file.error = exc
    return size_bytes


def _run(
    _file: SegmentFile, work: Callable[[], Any], loop: asyncio.AbstractEventLoop, future: Any
) -> None:
    try:
        result = work()
    except BaseException as exc:  # handed to the awaiting task, whatever it is
        _settle(loop, future, None, exc)
    else:
        _settle(loop, future, result, None)


def _settle(
    loop: asyncio.AbstractEventLoop, future: Any, result: Any, error: BaseException | None
) -> None:
    def settle() -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
        loop.call_soon_threadsafe(settle)


_default: SegmentIo | None = None
_default_lock = threading.Lock()


def default_segment_io() -> SegmentIo:
    """The process's shared instance (threads start at first use and are daemons)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SegmentIo()
        return _default
