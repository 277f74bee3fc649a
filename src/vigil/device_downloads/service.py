"""Device downloads as a component: submit, run at most ``concurrency`` at once, remove.

A job INVITEs the channel's device with ``s=Download`` and ``a=downloadspeed`` (GB/T
28181-2016 §9.9; :meth:`DevicePlaybacks.open` with mode ``download``), subscribes to the
play's hub and writes every video sample into one MP4 with the platform's fMP4 writer (one
fragment per group of pictures, the same layout as recorded segments, so every player
opens it). Files::

    <data_dir>/downloads/<job id>.mp4            whole and fsynced, or absent
    <data_dir>/downloads/.<job id>.mp4.partial   while it is written (removed at start-up)

The job is ``done`` when the device reports the end of the file (MediaStatus 121: the play
is ``finished``). It fails with the play's verdict when the device refuses the INVITE, ends
the call (BYE) or stops sending (RTP silence), when the download takes longer than the
window would at real time (plus a margin), or when the writer fell behind the device and
samples were dropped: a copy with holes is not a copy. Progress — media seconds received
over the window's length — reaches the row about once a second and is 1.0 exactly when
the job is done. Jobs left running by a stopped process are queued again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.device_downloads import jobs
from vigil.device_downloads.download_file import MP4_SUFFIX, DownloadFile, remove_partials
from vigil.device_downloads.jobs import DownloadJob
from vigil.playbacks import DevicePlayback, DevicePlaybacks, PlaybackError
from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.samples import Sample
from vigil.settings import Settings

logger = logging.getLogger(__name__)

DOWNLOADS_DIR_NAME = "downloads"
MIN_SPEED, MAX_SPEED, DEFAULT_SPEED = 1, 8, 4
TICKS_PER_S = 90_000
# The subscriber queue holds this much: downloads arrive faster than real time and are
# written one GOP per thread hop, so the queue must outlast a slow disk write or fsync.
QUEUE_SAMPLES = 2000
QUEUE_BYTES = 64 * 1024 * 1024
# A device may ignore a=downloadspeed and send at real time; give up beyond that.
DEADLINE_FACTOR, DEADLINE_MARGIN_S = 1.25, 60.0
END_WAIT_S = 5.0  # for the play's verdict after its stream closed


class DownloadError(Exception):
    """A download failed; the message is the plain-language reason stored in the job."""


@dataclass(slots=True)
class _Progress:
    first_dts_90k: int | None = None
    media_s: float = 0.0
    size_bytes: int = 0
    frames: int = 0

    def add(self, sample: Sample) -> None:
        if self.first_dts_90k is None:
            self.first_dts_90k = sample.dts_90k
        end_90k = sample.dts_90k + (sample.duration_90k or 0)
        self.media_s = max(self.media_s, (end_90k - self.first_dts_90k) / TICKS_PER_S)
        self.frames += 1


class DeviceDownloads:
    def __init__(
        self,
        engine: AsyncEngine,
        playbacks: DevicePlaybacks,
        *,
        downloads_dir: Path,
        concurrency: int = 2,
        max_window_s: int = 24 * 3600,
        fsync: bool = True,
        poll_interval_s: float = 5.0,
        progress_interval_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.playbacks = playbacks
        self.downloads_dir = downloads_dir
        self.concurrency = concurrency
        self.max_window_s = max_window_s
        self.fsync = fsync
        self.poll_interval_s = poll_interval_s
        self.progress_interval_s = progress_interval_s
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._stopping = False

    @classmethod
    def from_settings(
        cls, engine: AsyncEngine, playbacks: DevicePlaybacks, settings: Settings
    ) -> DeviceDownloads:
        return cls(
            engine,
            playbacks,
            downloads_dir=settings.data_dir.resolve() / DOWNLOADS_DIR_NAME,
            concurrency=settings.media.device_download_concurrency,
            max_window_s=settings.media.device_download_max_s,
            fsync=settings.recording.fsync,
        )

    # ---- what the API uses -------------------------------------------------------------

    def mp4_path(self, job_id: str) -> Path:
        return self.downloads_dir / f"{job_id}{MP4_SUFFIX}"

    async def submit(
        self,
        channel_id: str,
        device_id: str,
        start: datetime,
        end: datetime,
        *,
        speed: int = DEFAULT_SPEED,
        requested_by: str,
    ) -> DownloadJob:
        """Queue a download of [start, end] (aware instants); ValueError naming the field."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("start: start and end need a time zone")
        if end <= start:
            raise ValueError("end: the window must end after it starts")
        if end - start > timedelta(seconds=self.max_window_s):
            raise ValueError(f"end: a download covers at most {self.max_window_s} s")
        if not MIN_SPEED <= speed <= MAX_SPEED:
            raise ValueError(f"speed: must be within {MIN_SPEED}-{MAX_SPEED}")
        job = await jobs.create_job(
            self.engine,
            channel_id=channel_id,
            device_id=device_id,
            requested_by=requested_by,
            start_at=start,
            end_at=end,
            speed=speed,
        )
        self._wake.set()
        return job

    async def remove(self, job: DownloadJob) -> bool:
        """Delete a job that is not running, and its file; False while it runs."""
        if not await jobs.delete_job(self.engine, job.id):
            return False
        await asyncio.to_thread(self.mp4_path(job.id).unlink, missing_ok=True)
        return True

    # ---- the component -----------------------------------------------------------------

    async def run(self) -> None:
        """Run queued jobs until cancelled, at most ``concurrency`` at a time."""
        await asyncio.to_thread(self._prepare_directory)
        requeued = await jobs.requeue_interrupted(self.engine)
        if requeued:
            logger.info("queued again %d device downloads interrupted by a stop", requeued)
        async with asyncio.TaskGroup() as group:
            while not self._stopping:
                free = self.concurrency - len(self._running)
                if free > 0:
                    for job_id in await jobs.queued_job_ids(self.engine, free):
                        if not self._stopping and await jobs.claim_job(self.engine, job_id):
                            self._running[job_id] = group.create_task(self._run_job(job_id))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval_s):
                        await self._wake.wait()
                self._wake.clear()

    async def stop(self) -> None:
        """Platform stopping: end running downloads (BYE) without failing them — their rows
        stay ``running`` and are queued again at the next start."""
        self._stopping = True
        self._wake.set()
        running = list(self._running.values())
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=END_WAIT_S)

    def _prepare_directory(self) -> None:
        self.downloads_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        remove_partials(self.downloads_dir)

    async def _run_job(self, job_id: str) -> None:
        try:
            job = await jobs.get_job(self.engine, job_id)
            if job is not None:
                await self._execute(job)
        except (DownloadError, PlaybackError, ValueError) as exc:
            logger.warning("device download %s failed: %s", job_id, exc)
            await jobs.fail_job(self.engine, job_id, str(exc))
        except Exception as exc:  # supervision boundary: one job's failure ends only that job
            logger.exception("device download %s failed", job_id)
            await jobs.fail_job(self.engine, job_id, f"internal error: {exc}")
        finally:
            self._running.pop(job_id, None)
            self._wake.set()

    async def _execute(self, job: DownloadJob) -> None:
        start_s, end_s = job.window_s
        play = await self.playbacks.open(
            job.channel_id, job.device_id, start_s, end_s, mode="download", download_speed=job.speed
        )
        target = DownloadFile(self.mp4_path(job.id), fsync=self.fsync)
        finished = False
        try:
            await asyncio.to_thread(target.create)
            progress = await self._receive(job, play, target)
            sha256 = await asyncio.to_thread(target.finish)
            finished = True
        finally:
            if not finished:
                await asyncio.to_thread(target.discard)
            await play.close("the download ended")
        await jobs.finish_job(
            self.engine,
            job.id,
            path=target.final.name,
            size_bytes=target.size_bytes,
            frames=progress.frames,
            sha256=sha256,
        )
        logger.info(
            "device download %s of %s done: %d frames, %.1f s, %d bytes",
            job.id, job.channel_id, progress.frames, progress.media_s, target.size_bytes,
        )  # fmt: skip

    async def _receive(
        self, job: DownloadJob, play: DevicePlayback, target: DownloadFile
    ) -> _Progress:
        """Samples → fMP4 → file until the play's stream ends; the play must be finished."""
        window_s = max(1, job.window_s[1] - job.window_s[0])
        deadline_s = window_s * DEADLINE_FACTOR + DEADLINE_MARGIN_S
        fmp4 = Fmp4Writer(FragmentMode.GOP)
        progress = _Progress()
        loop = asyncio.get_running_loop()
        next_report_s = loop.time() + self.progress_interval_s
        subscription = play.hub.subscribe(
            video_only=True, max_samples=QUEUE_SAMPLES, max_bytes=QUEUE_BYTES
        )
        try:
            async with asyncio.timeout(deadline_s):
                async for sample in subscription:
                    if subscription.skips:
                        raise DownloadError("the platform fell behind the device; frames lost")
                    progress.add(sample)
                    if out := fmp4.push(sample):  # once per GOP: one thread hop
                        await asyncio.to_thread(target.append, b"".join(out))
                    if loop.time() >= next_report_s:
                        next_report_s = loop.time() + self.progress_interval_s
                        await jobs.set_progress(
                            self.engine, job.id, progress=min(0.99, progress.media_s / window_s),
                            size_bytes=target.size_bytes, frames=progress.frames,
                        )  # fmt: skip
                # The hub closed: the play ended. Why is in its state once it has ended.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(play.ended.wait(), END_WAIT_S)
        except TimeoutError:
            raise DownloadError(f"the download did not finish within {deadline_s:.0f} s") from None
        finally:
            subscription.close()
        if play.state != "finished":
            raise DownloadError(play.verdict or f"the download ended early ({play.state})")
        if out := fmp4.flush():
            await asyncio.to_thread(target.append, b"".join(out))
        if fmp4.stats.samples == 0:
            raise DownloadError("the device sent no decodable video")
        progress.frames = fmp4.stats.samples
        return progress
