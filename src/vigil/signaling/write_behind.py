"""Write-behind of device presence (DESIGN §7): changes are coalesced in memory and written
in one transaction every ``flush_interval_s``, or sooner when ``flush_max_changes`` are
pending. A failed write is merged back under newer changes and retried at the next flush; a
last flush runs when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.exc import SQLAlchemyError

from vigil.registry.device_presence import (
    PresenceBatch,
    PresenceChange,
    PresenceWriteStats,
    write_presence_batch,
)
from vigil.signaling.counters import SignalingCounters
from vigil.signaling.write_gate import WriteGate

logger = logging.getLogger(__name__)

RETRY_DELAY_S = 2.0


class PresenceWriter:
    def __init__(
        self,
        gate: WriteGate,
        counters: SignalingCounters,
        *,
        flush_interval_s: float,
        flush_max_changes: int,
    ) -> None:
        self._gate = gate
        self._counters = counters
        self.flush_interval_s = flush_interval_s
        self.flush_max_changes = flush_max_changes
        self.stats = PresenceWriteStats()
        self._batch = PresenceBatch()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self._batch)

    def device(self, change: PresenceChange) -> None:
        self._batch.add_device(change)
        if len(self._batch) >= self.flush_max_changes:
            self._wake.set()

    def channel_status(self, channel_id: str, device_id: str, online: bool) -> None:
        self._batch.add_channel_status(channel_id, device_id, online)
        if len(self._batch) >= self.flush_max_changes:
            self._wake.set()

    async def flush(self) -> bool:
        """Write what is pending now; False when the database refused (kept for retry)."""
        async with self._lock:
            batch, self._batch = self._batch, PresenceBatch()
            if not len(batch):
                return True
            try:
                async with self._gate.begin() as conn:
                    await write_presence_batch(conn, batch, self.stats)
            except (SQLAlchemyError, OSError) as exc:
                self._counters.db_flush_failures += 1
                logger.warning("presence write of %d changes failed: %s", len(batch), exc)
                self._restore(batch)
                return False
            except asyncio.CancelledError:
                self._restore(batch)  # the final flush writes it
                raise
            return True

    def _restore(self, failed: PresenceBatch) -> None:
        """Put a batch that was not written back under the changes made since."""
        newer, self._batch = self._batch, failed
        for change in newer.devices.values():
            self._batch.add_device(change)
        self._batch.channel_status.update(newer.channel_status)

    async def run(self) -> None:
        try:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.flush_interval_s)
                self._wake.clear()
                if not await self.flush():
                    await asyncio.sleep(RETRY_DELAY_S)
        finally:
            await asyncio.shield(self._final_flush())

    async def _final_flush(self) -> None:
        if len(self._batch):
            await self.flush()
