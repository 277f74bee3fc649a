"""The retention component: runs a retention pass every ``retention_interval_s``.

It owns the pool-full state of the stop policy (``recording.retention``): the recorder asks
``pool_full(pool)`` before opening a segment file and may ``wake()`` the component early
when it sees space running low.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.recording.retention import (
    PoolFullState,
    RetentionReport,
    run_retention_pass,
)
from vigil.settings import RecordingSettings, RetentionSettings, StoragePool

logger = logging.getLogger(__name__)


class RetentionService:
    def __init__(
        self,
        engine: AsyncEngine,
        pools: Sequence[StoragePool],
        recording: RecordingSettings,
        retention: RetentionSettings,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        first_pass_after: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.engine = engine
        self.pools = list(pools)
        self.recording = recording
        self.retention = retention
        self.clock = clock
        # Start-up reconciliation must finish first: a pass deleting rows while files are
        # being matched to rows could leave a row re-created for a file about to go.
        self.first_pass_after = first_pass_after
        self.state = PoolFullState()
        self.last_report: RetentionReport | None = None
        self._wake = asyncio.Event()

    def pool_full(self, pool: str) -> bool:
        """Whether the stop policy closed ``pool`` (the recorder must not open files there)."""
        return self.state.pool_full(pool)

    def wake(self) -> None:
        """Run the next pass now instead of at the end of the interval."""
        self._wake.set()

    async def run_once(self) -> RetentionReport:
        report = await run_retention_pass(
            self.engine,
            self.pools,
            self.recording,
            self.retention,
            now=self.clock(),
            state=self.state,
        )
        self.last_report = report
        if report.aged_segments or report.quota_segments or report.guaranteed_segments:
            logger.info(
                "retention: %d aged, %d over quota, %d inside a guarantee; %d bytes freed",
                report.aged_segments,
                report.quota_segments,
                report.guaranteed_segments,
                report.bytes_freed,
            )
        return report

    async def run(self) -> None:
        """Pass after pass until cancelled; a failed pass is logged and retried next time."""
        if self.first_pass_after is not None:
            await self.first_pass_after()
        while True:
            try:
                await self.run_once()
            except Exception:  # supervision boundary: one bad pass must not end retention
                logger.exception("retention pass failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.recording.retention_interval_s):
                    await self._wake.wait()
            self._wake.clear()
