"""Real recordings for playback tests: a PyAV-encoded clip written by the segment writer.
`record_clip` and the ffprobe probes also serve the export tests' recordings
(`tests.recording.export_recordings`) and the segment writer's tests."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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


def samples(
    frames: int, channel_id: str = CHANNEL, width: int = 320, height: int = 180
) -> list[Sample]:
    return clip_samples(encode_clip(width, height, channel_id), frames=frames)


async def record_clip(
    engine: AsyncEngine,
    pool_dir: Path,
    channel_id: str,
    start_at: datetime,
    frames: int,
    *,
    width: int = 320,
    height: int = 180,
) -> list[SegmentRow]:
    """``frames`` frames of the simulator's clip (``width`` × ``height``, 1 s GOPs at FPS)
    recorded in pool POOL from ``start_at`` in ~2 s segments, without fsync."""
    return await record_samples(
        engine, POOL, pool_dir, channel_id, samples(frames, channel_id, width, height),
        start_at=start_at, segment_duration_s=2.0, fsync=False,
    )  # fmt: skip


@dataclass(frozen=True)
class Recorded:
    pool_dir: Path
    run1: list[SegmentRow]
    run2: list[SegmentRow]


async def record_two_runs(
    engine: AsyncEngine, pool_dir: Path, channel_id: str = CHANNEL, start_at: datetime = T0
) -> Recorded:
    """Run 1: 6 s from ``start_at`` in ~2 s segments; a 4 s gap; run 2: 2 s."""
    run1 = await record_clip(engine, pool_dir, channel_id, start_at, RUN1_FRAMES)
    run2 = await record_clip(
        engine, pool_dir, channel_id, start_at + (RUN2_START - T0), RUN2_FRAMES
    )
    return Recorded(pool_dir, run1, run2)


def ffprobe_frame_entries(path: Path, entries: str) -> list[dict[str, Any]]:
    """Every video frame ffprobe decodes from ``path`` (the whole file), with the frame
    ``entries`` asked for (comma-separated, as ``-show_entries frame=…`` takes them)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames",
         "-show_entries", f"frame={entries}", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=120,
    ).stdout  # fmt: skip
    frames: list[dict[str, Any]] = json.loads(out)["frames"]
    return frames


def ffprobe_frames(path: Path) -> list[float]:
    """Presentation times of every video frame ffprobe decodes from ``path``."""
    frames = ffprobe_frame_entries(path, "pts_time,best_effort_timestamp_time")
    return [
        float(f["pts_time"] if "pts_time" in f else f["best_effort_timestamp_time"]) for f in frames
    ]


def ffprobe_h264_frame_count(path: Path) -> int:
    """How many frames ffprobe decodes from the first video stream of ``path``, which must
    be H.264."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames,codec_name", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    stream = json.loads(out)["streams"][0]
    assert stream["codec_name"] == "h264"
    return int(stream["nb_read_frames"])
