"""Real recordings for export tests: two runs of a channel with a gap and a resolution change.

Run A: 320×240 from T0, 6 s (150 frames at 25 fps, 1 s GOPs) in 2 s segments.
Run B: 352×288 from T0 + 10 s, 4 s (100 frames) in 2 s segments.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.playback_fixtures import CHANNEL, POOL, ffprobe_frame_entries, record_clip
from vigil.recording.export_jobs import ExportJob, get_job
from vigil.recording.export_service import ExportService
from vigil.recording.index import SegmentRow
from vigil.recording.platform_key import load_or_create_platform_key

__all__ = [
    "CHANNEL",
    "POOL",
    "RUN_B_AT",
    "T0",
    "export_service",
    "ffprobe_frames",
    "record_two_runs",
    "wait_finished",
]

T0 = datetime(2026, 11, 2, 9, 30, 0, tzinfo=UTC)
RUN_B_AT = T0 + timedelta(seconds=10)


async def record_two_runs(
    engine: AsyncEngine, pool_dir: Path, channel_id: str = CHANNEL
) -> list[SegmentRow]:
    a = await record_clip(engine, pool_dir, channel_id, T0, 150, width=320, height=240)
    b = await record_clip(engine, pool_dir, channel_id, RUN_B_AT, 100, width=352, height=288)
    return a + b


def export_service(engine: AsyncEngine, data_dir: Path, pool_dir: Path) -> ExportService:
    return ExportService(
        engine,
        exports_dir=data_dir / "exports",
        pool_dirs={POOL: pool_dir},
        signing_key=load_or_create_platform_key(data_dir),
        platform_id="34020000002000000001",
        max_duration_s=24 * 3600,
        concurrency=2,
        fsync=False,
        poll_interval_s=0.05,
        progress_interval_s=0.01,
    )


async def wait_finished(service: ExportService, job_id: str, timeout_s: float = 30.0) -> ExportJob:
    async with asyncio.timeout(timeout_s):
        while True:
            job = await get_job(service.engine, job_id)
            assert job is not None
            if job.state in ("done", "failed"):
                return job
            await asyncio.sleep(0.02)


def ffprobe_frames(path: Path) -> list[dict[str, Any]]:
    """Every decoded frame: pts, width, height (ffprobe decodes the whole file)."""
    return ffprobe_frame_entries(path, "pts,pkt_dts,width,height,key_frame")
