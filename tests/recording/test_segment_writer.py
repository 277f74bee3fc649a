"""Segment writer: run-relative times, fragment tables that match the bytes, crash-safe files."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.playback_fixtures import ffprobe_h264_frame_count
from vigil.db.tables import video_params
from vigil.protocols.fmp4.retime import fragment_decode_time
from vigil.protocols.samples import Sample
from vigil.recording.errors import StorageFullError
from vigil.recording.index import ensure_video_params, segments_between, video_params_by_id
from vigil.recording.segment_writer import (
    SegmentWriter,
    clip_samples,
    corrected_end,
    parse_segment_path,
    record_samples,
    segment_path,
)
from vigil.sim.sim_media import encode_clip

CHANNEL = "34020000001320000001"
T0 = datetime(2026, 11, 2, 9, 30, 15, 250_000, tzinfo=UTC)


def _clip_samples(frames: int) -> list[Sample]:
    # 50 frames at 25 fps, a keyframe every 25 frames (1 s GOPs).
    return clip_samples(encode_clip(320, 240, CHANNEL), frames=frames)


def test_paths_round_trip() -> None:
    path = segment_path(CHANNEL, T0, 1762075815250, 3)
    assert path == (f"{CHANNEL}/20261102/{CHANNEL}-20261102T093015250Z-r1762075815250-0003.mp4")
    name = parse_segment_path(path)
    assert name is not None
    assert (name.channel_id, name.start_at, name.run_id, name.seq) == (
        CHANNEL,
        T0,
        1762075815250,
        3,
    )
    assert parse_segment_path("x/y/notes.txt") is None


def test_wall_time_correction_is_bounded() -> None:
    duration_90k = 60 * 90_000
    end = corrected_end(T0, duration_90k, T0 + timedelta(seconds=61))
    assert end == T0 + timedelta(seconds=60 * (1 + 500e-6))  # clamped at +500 ppm
    small = corrected_end(T0, duration_90k, T0 + timedelta(seconds=60.01))
    assert small == T0 + timedelta(seconds=60.01)  # within bound: follows the clock
    assert corrected_end(T0, duration_90k, None) == T0 + timedelta(seconds=60)


async def test_segments_abut_and_tables_match_files(engine: AsyncEngine, tmp_path: Path) -> None:
    rows = await record_samples(
        engine, "default", tmp_path, CHANNEL, _clip_samples(250), start_at=T0,
        segment_duration_s=2.0,
    )  # fmt: skip
    assert [round(r.duration_90k / 90_000, 2) for r in rows] == [2.0, 2.0, 2.0, 2.0, 2.0]
    assert sum(r.frames for r in rows) == 250
    assert rows[0].start_90k == 0
    assert rows[0].start_at == T0
    assert len({r.run_id for r in rows}) == 1
    for before, after in itertools.pairwise(rows):
        assert after.start_90k == before.start_90k + before.duration_90k
        assert after.start_at == before.end_at
    params = await video_params_by_id(engine, rows[0].params_id)
    assert params is not None
    assert (params.codec, params.width, params.height) == ("h264", 320, 240)
    for row in rows:
        data = (tmp_path / row.path).read_bytes()
        assert len(data) == row.size_bytes
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert data[: row.init_size_bytes] == params.init_segment
        assert parse_segment_path(row.path) is not None
        offset = row.init_size_bytes
        for entry in row.fragments:
            assert entry.offset_bytes == offset
            chunk = data[entry.offset_bytes : entry.offset_bytes + entry.size_bytes]
            assert chunk[4:8] == b"moof"
            # tfdt is run-relative: the segment start plus the entry's relative start.
            assert fragment_decode_time(chunk) == row.start_90k + entry.start_90k
            assert entry.starts_with_key
            offset += entry.size_bytes
        assert offset == row.size_bytes
        assert sum(e.frames for e in row.fragments) == row.frames
        assert row.fragments[-1].end_90k == row.duration_90k
    indexed = await segments_between(engine, CHANNEL, T0, T0 + timedelta(minutes=1))
    assert [r.id for r in indexed] == [r.id for r in rows]
    assert indexed[2].fragments == rows[2].fragments


async def test_first_segment_is_staggered(engine: AsyncEngine, tmp_path: Path) -> None:
    rows = await record_samples(
        engine, "default", tmp_path, CHANNEL, _clip_samples(200), start_at=T0,
        segment_duration_s=3.0, first_segment_duration_s=1.0,
    )  # fmt: skip
    assert [r.duration_90k // 90_000 for r in rows] == [1, 3, 3, 1]


@pytest.mark.e2e
async def test_ffprobe_reads_every_segment(engine: AsyncEngine, tmp_path: Path) -> None:
    rows = await record_samples(
        engine, "default", tmp_path, CHANNEL, _clip_samples(175), start_at=T0,
        segment_duration_s=2.0,
    )  # fmt: skip
    assert len(rows) == 4
    for row in rows:
        assert ffprobe_h264_frame_count(tmp_path / row.path) == row.frames


async def test_full_pool_refuses_new_segment(engine: AsyncEngine, tmp_path: Path) -> None:
    allowed = [True]

    async def room() -> bool:
        return allowed[0]

    writer = SegmentWriter(
        engine, pool_name="default", pool_dir=tmp_path, channel_id=CHANNEL, run_id=1,
        run_start_at=T0, segment_duration_s=2.0, room_check=room,
    )  # fmt: skip
    samples = _clip_samples(150)
    finished = []
    for sample in samples[:60]:
        finished += await writer.push(sample)
    assert writer.current_path is not None
    allowed[0] = False
    with pytest.raises(StorageFullError):  # noqa: PT012 - raised by whichever push cuts
        for sample in samples[60:]:
            finished += await writer.push(sample)
    assert finished == []
    finished += await writer.abandon()
    assert len(finished) == 1  # the file begun before the pool filled was finished
    assert len(_mp4_files(tmp_path)) == 1


def _mp4_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.mp4"))


async def test_exclusive_create_never_overwrites(engine: AsyncEngine, tmp_path: Path) -> None:
    # A file left by an earlier process under the same name is kept; the writer moves on.
    taken = tmp_path / segment_path(CHANNEL, T0, 7, 1)
    taken.parent.mkdir(parents=True)
    taken.write_bytes(b"evidence")
    rows = await record_samples(
        engine, "default", tmp_path, CHANNEL, _clip_samples(50), start_at=T0,
        segment_duration_s=2.0, run_id=7,
    )  # fmt: skip
    assert taken.read_bytes() == b"evidence"
    assert [parse_segment_path(r.path).seq for r in rows] == [2]  # type: ignore[union-attr]


async def test_concurrent_first_sightings_share_one_parameters_row(
    engine: AsyncEngine,
) -> None:
    # Cameras of one model have identical init segments; two channels may both miss the
    # row and insert it at once. The second insert waits for the first transaction and
    # must then find its row rather than fail on the unique hash.
    values = {"codec": "h264", "rfc6381_codec": "avc1.42c01f", "width": 320, "height": 240,
              "init_segment": b"same init segment"}  # fmt: skip
    async with engine.connect() as first, engine.connect() as second:
        await first.begin()
        first_id = await ensure_video_params(first, **values)  # type: ignore[arg-type]
        await second.begin()
        racing = asyncio.ensure_future(ensure_video_params(second, **values))  # type: ignore[arg-type]
        await asyncio.sleep(0.5)  # the second is now blocked on its insert
        assert not racing.done()
        await first.commit()
        second_id = await asyncio.wait_for(racing, 10)
        await second.commit()
    assert first_id == second_id
    async with engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(video_params)) == 1
