"""Real recordings for export tests: two runs of a channel with a gap and a resolution change.

Run A: 320×240 from T0, 6 s (150 frames at 25 fps, 1 s GOPs) in 2 s segments.
Run B: 352×288 from T0 + 10 s, 4 s (100 frames) in 2 s segments.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.recording.export_jobs import ExportJob, get_job
from vigil.recording.export_service import ExportService
from vigil.recording.index import SegmentRow
from vigil.recording.platform_key import load_or_create_platform_key
from vigil.recording.segment_writer import clip_samples, record_samples
from vigil.sim.sim_media import encode_clip

CHANNEL = "34020200001310000001"
POOL = "default"
T0 = datetime(2026, 11, 2, 9, 30, 0, tzinfo=UTC)
RUN_B_AT = T0 + timedelta(seconds=10)


async def record_two_runs(
    engine: AsyncEngine, pool_dir: Path, channel_id: str = CHANNEL
) -> list[SegmentRow]:
    a = await record_samples(
        engine, POOL, pool_dir, channel_id,
        clip_samples(encode_clip(320, 240, channel_id), frames=150),
        start_at=T0, segment_duration_s=2.0, fsync=False,
    )  # fmt: skip
    b = await record_samples(
        engine, POOL, pool_dir, channel_id,
        clip_samples(encode_clip(352, 288, channel_id), frames=100),
        start_at=RUN_B_AT, segment_duration_s=2.0, fsync=False,
    )  # fmt: skip
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
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames",
         "-show_entries", "frame=pts,pkt_dts,width,height,key_frame", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=120,
    ).stdout  # fmt: skip
    frames: list[dict[str, Any]] = json.loads(out)["frames"]
    return frames
