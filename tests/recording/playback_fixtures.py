"""Real recordings for playback tests: a PyAV-encoded clip written by the segment writer."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.protocols.samples import Sample
from vigil.recording.index import SegmentRow
from vigil.recording.segment_writer import clip_samples, record_samples
from vigil.sim.sim_media import encode_clip

CHANNEL = "34020200001310000001"
T0 = datetime(2026, 11, 3, 8, 0, 0, tzinfo=UTC)
FPS = 25
POOL = "default"
RUN1_FRAMES = 150  # 6 s, GOPs of 1 s, segments of ~2 s
RUN2_FRAMES = 50  # 2 s after a 4 s gap
RUN2_START = T0 + timedelta(seconds=10)


def samples(frames: int, channel_id: str = CHANNEL) -> list[Sample]:
    return clip_samples(encode_clip(320, 180, channel_id), frames=frames)


@dataclass(frozen=True)
class Recorded:
    pool_dir: Path
    run1: list[SegmentRow]
    run2: list[SegmentRow]


async def record_two_runs(
    engine: AsyncEngine, pool_dir: Path, channel_id: str = CHANNEL, start_at: datetime = T0
) -> Recorded:
    """Run 1: 6 s from ``start_at`` in ~2 s segments; a 4 s gap; run 2: 2 s."""
    run1 = await record_samples(
        engine, POOL, pool_dir, channel_id, samples(RUN1_FRAMES, channel_id),
        start_at=start_at, segment_duration_s=2.0, fsync=False,
    )  # fmt: skip
    run2 = await record_samples(
        engine, POOL, pool_dir, channel_id, samples(RUN2_FRAMES, channel_id),
        start_at=start_at + (RUN2_START - T0), segment_duration_s=2.0, fsync=False,
    )  # fmt: skip
    return Recorded(pool_dir, run1, run2)


def ffprobe_frames(path: Path) -> list[float]:
    """Presentation times of every video frame ffprobe decodes from ``path``."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames",
         "-show_entries", "frame=pts_time,best_effort_timestamp_time", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    frames = json.loads(out)["frames"]
    return [float(f.get("pts_time", f.get("best_effort_timestamp_time"))) for f in frames]
