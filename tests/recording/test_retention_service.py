"""The retention component: waits for start-up reconciliation, then passes; wake() hurries it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.synthetic_segments import add_channel, add_segment, segment_rows
from vigil.recording.retention_service import RetentionService
from vigil.settings import RecordingSettings, RetentionSettings, StoragePool

CH = "34020200001310000003"  # class 3: 7 days


async def _until(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the retention pass did not run in time")


async def test_first_pass_waits_then_wake_runs_another(engine: AsyncEngine, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    await add_channel(engine, CH, 3)
    await add_segment(engine, tmp_path, CH, now - timedelta(days=10))
    gate = asyncio.Event()
    service = RetentionService(
        engine,
        [StoragePool(name="default", path=tmp_path)],
        RecordingSettings(fsync=False, min_free_bytes=0, retention_interval_s=3600),
        RetentionSettings(),
        first_pass_after=gate.wait,
    )
    async with asyncio.TaskGroup() as group:
        task = group.create_task(service.run())
        await asyncio.sleep(0.1)
        assert service.last_report is None  # reconciliation has not finished yet
        assert len(await segment_rows(engine)) == 1
        gate.set()
        await _until(lambda: service.last_report is not None)
        assert service.last_report is not None
        assert service.last_report.aged_segments == 1
        await add_segment(engine, tmp_path, CH, now - timedelta(days=9))
        service.last_report = None
        service.wake()  # long before the hour-long interval ends
        await _until(lambda: service.last_report is not None)
        assert service.last_report is not None
        assert service.last_report.aged_segments == 1
        assert await segment_rows(engine) == []
        assert not service.pool_full("default")
        task.cancel()
