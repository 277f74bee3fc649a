"""Downloads of a device's recording end to end on loopback (GB/T 28181-2016 §9.9): the
Download INVITE to the simulator, PS/RTP at the download speed into the media server, one
MP4 written from the play's hub, the end at MediaStatus 121, failures with the play's
verdict, and jobs interrupted by a stop running again at the next start."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.playback_fixtures import ffprobe_frames
from tests.signaling.conftest import eventually, sqlite_engine
from tests.streams.conftest import LivePath, live_path
from vigil.device_downloads import DeviceDownloads, DownloadJob
from vigil.device_downloads import jobs as download_jobs
from vigil.device_downloads.download_file import partial_path
from vigil.playbacks import DevicePlaybacks
from vigil.sim.sim_media import FPS

__all__ = ["sqlite_engine"]

pytestmark = pytest.mark.integration

HOUR_S = 3600


def _recorded_start() -> int:
    """Two hours before the last whole hour: recorded on every simulated channel."""
    return int(time.time()) // HOUR_S * HOUR_S - 2 * HOUR_S


def _at(unix_s: int) -> datetime:
    return datetime.fromtimestamp(unix_s, UTC)


@contextlib.asynccontextmanager
async def running(service: DeviceDownloads) -> AsyncIterator[DeviceDownloads]:
    task = asyncio.create_task(service.run())
    try:
        yield service
    finally:
        await service.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def downloads_path(
    engine: AsyncEngine, downloads_dir: Path
) -> AsyncIterator[tuple[LivePath, DevicePlaybacks]]:
    async with live_path(engine) as path:
        playbacks = DevicePlaybacks(path.signaling, path.media, path.settings)
        try:
            yield path, playbacks
        finally:
            await playbacks.close()


def _service(engine: AsyncEngine, playbacks: DevicePlaybacks, directory: Path) -> DeviceDownloads:
    return DeviceDownloads(
        engine, playbacks, downloads_dir=directory, poll_interval_s=0.2, progress_interval_s=0.2
    )


async def _ended(engine: AsyncEngine, job_id: str, timeout_s: float = 20) -> DownloadJob:
    async def ended() -> bool:
        job = await download_jobs.get_job(engine, job_id)
        return job is not None and job.state in download_jobs.ENDED

    await eventually(ended, timeout_s=timeout_s)
    job = await download_jobs.get_job(engine, job_id)
    assert job is not None
    return job


async def _submit(
    service: DeviceDownloads, path: LivePath, start: int, seconds: int, speed: int
) -> DownloadJob:
    channel_id, device_id = path.channel
    return await service.submit(
        channel_id, device_id, _at(start), _at(start + seconds), speed=speed, requested_by="admin"
    )


async def test_a_window_downloads_into_one_mp4(engine: AsyncEngine, tmp_path: Path) -> None:
    async with downloads_path(engine, tmp_path) as (path, playbacks):
        async with running(_service(engine, playbacks, tmp_path / "downloads")) as service:
            start = _recorded_start()
            began = time.monotonic()
            job = await _submit(service, path, start, 8, speed=4)
            assert (job.state, job.progress, job.speed) == ("queued", 0.0, 4)
            seen: list[float] = []

            async def done() -> bool:
                current = await download_jobs.get_job(engine, job.id)
                assert current is not None
                if current.state == "running":
                    seen.append(current.progress)
                return current.state in download_jobs.ENDED

            await eventually(done, timeout_s=20, interval_s=0.1)
            took_s = time.monotonic() - began
        finished = await download_jobs.get_job(engine, job.id)
        assert finished is not None
        assert finished.state == "done", finished.error
        assert took_s < 7.0  # 8 s of recording at 4× takes about 2 s
        assert any(0 < p < 1 for p in seen), seen  # progress moved while it ran
        assert finished.progress == 1.0
        mp4 = service.mp4_path(job.id)
        data = mp4.read_bytes()
        assert finished.path == mp4.name
        assert finished.size_bytes == len(data)
        assert finished.sha256 == hashlib.sha256(data).hexdigest()
        assert not partial_path(mp4).exists()
        times = await asyncio.to_thread(ffprobe_frames, mp4)  # an independent reader
        assert 7.5 * FPS <= len(times) <= 8.5 * FPS, len(times)
        assert len(times) == finished.frames
        assert 7.5 <= times[-1] - times[0] + 1 / FPS <= 8.5
        assert playbacks.active == 0  # the play ended with BYE


async def test_a_window_without_recordings_fails_with_the_device_answer(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with downloads_path(sqlite_engine, tmp_path) as (path, playbacks):
        async with running(_service(sqlite_engine, playbacks, tmp_path / "dl")) as service:
            long_ago = _recorded_start() - 30 * 86_400
            job = await _submit(service, path, long_ago, 60, speed=4)
            failed = await _ended(sqlite_engine, job.id)
        assert failed.state == "failed"
        assert failed.error is not None
        assert "404" in failed.error
        assert not service.mp4_path(job.id).exists()
        assert not list((tmp_path / "dl").iterdir())


async def test_submit_refuses_bad_windows_and_speeds(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with downloads_path(sqlite_engine, tmp_path) as (path, playbacks):
        service = _service(sqlite_engine, playbacks, tmp_path / "dl")
        start = _recorded_start()
        for seconds, speed, field in ((0, 4, "end"), (25 * HOUR_S, 4, "end"), (10, 9, "speed")):
            with pytest.raises(ValueError, match=f"^{field}:"):
                await _submit(service, path, start, seconds, speed)


async def test_a_stop_leaves_the_job_to_run_again_at_the_next_start(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    directory = tmp_path / "dl"
    async with downloads_path(sqlite_engine, tmp_path) as (path, playbacks):
        first = _service(sqlite_engine, playbacks, directory)
        async with running(first):
            job = await _submit(first, path, _recorded_start(), 6, speed=2)

            async def receiving() -> bool:
                current = await download_jobs.get_job(sqlite_engine, job.id)
                return current is not None and current.progress > 0

            await eventually(receiving, timeout_s=10)
        # The platform stopped: the job is still "running", its play ended with BYE.
        stopped = await download_jobs.get_job(sqlite_engine, job.id)
        assert stopped is not None
        assert stopped.state == "running"
        assert playbacks.active == 0
        assert not partial_path(first.mp4_path(job.id)).exists()
        # What a process killed mid-write leaves behind is removed at the next start.
        leftover = partial_path(first.mp4_path("0" * 32))
        leftover.write_bytes(b"torn")
        async with running(_service(sqlite_engine, playbacks, directory)):
            done = await _ended(sqlite_engine, job.id)
        assert done.state == "done", done.error
        assert 5.5 * FPS <= done.frames <= 6.5 * FPS
        assert not leftover.exists()
