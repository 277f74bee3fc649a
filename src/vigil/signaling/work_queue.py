"""A bounded queue of coroutines run by a fixed number of worker tasks.

Signalling handles packets synchronously; anything that must wait (a database lookup, a
query round trip, a catalog sync) is submitted here. A full queue refuses the job, so a
flood turns into 503 answers instead of unbounded memory. Workers belong to the owner's
TaskGroup through :meth:`run`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class WorkQueue:
    def __init__(self, name: str, *, workers: int, max_queued: int) -> None:
        self.name = name
        self.workers = workers
        self._queue: asyncio.Queue[Job] = asyncio.Queue(max_queued)
        self.completed = 0
        self.failed = 0
        self.refused = 0

    def submit(self, job: Job) -> bool:
        """Queue ``job``; False (and nothing queued) when the queue is full."""
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.refused += 1
            return False
        return True

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(self.workers):
                group.create_task(self._worker())

    async def _worker(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await job()
                self.completed += 1
            except asyncio.CancelledError:
                raise
            except Exception:  # supervision boundary: one failed job never stops the queue
                self.failed += 1
                logger.exception("job in work queue %s failed", self.name)
