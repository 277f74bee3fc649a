"""One timer for the keepalives of every simulated device.

A TimerHandle per device per keepalive costs more than the keepalive itself at 10 000
devices; here due times sit in one heap and a single ``loop.call_at`` handle fires for the
earliest. A device cancels its pending keepalives by moving to a new generation; stale heap
entries are skipped when they come due.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

Due = Callable[[int], None]  # called with the generation it was scheduled for

BATCH = 256  # keepalives per timer callback: answers are read between batches


class KeepaliveClock:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Due, int]] = []
        self._order = itertools.count()
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def schedule(self, delay_s: float, due: Due, generation: int) -> None:
        loop = self._loop or asyncio.get_running_loop()
        self._loop = loop
        at = loop.time() + max(delay_s, 0.0)
        heapq.heappush(self._heap, (at, next(self._order), due, generation))
        if self._armed_at is None or at < self._armed_at:
            self._arm(at)

    def _arm(self, at: float) -> None:
        assert self._loop is not None
        if self._handle is not None:
            self._handle.cancel()
        self._armed_at = at
        self._handle = self._loop.call_at(at, self._fire)

    def _fire(self) -> None:
        assert self._loop is not None
        self._handle = None
        self._armed_at = None
        now = self._loop.time()
        heap = self._heap
        for _ in range(BATCH):
            if not heap or heap[0][0] > now:
                break
            _, _, due, generation = heapq.heappop(heap)
            due(generation)
        # Keepalives scheduled above may have armed the timer later than what is left.
        if heap and (self._armed_at is None or heap[0][0] < self._armed_at):
            self._arm(heap[0][0])

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._heap.clear()
