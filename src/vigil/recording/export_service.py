"""Export jobs as a component: submit, run at most ``export_concurrency`` at once, verify.

``run()`` owns a TaskGroup with one task per running job; blocking work (reading and
hashing segment files, writing the MP4 and the manifest, hashing for verification) runs in
worker threads. Progress (bytes of the sources read / bytes to read) reaches the job row
about once a second and is 1.0 exactly when the job is done.

Several processes may run this service on one database: each holds the jobs it runs under a
lease (:mod:`.export_jobs`) renewed every third of ``lease_s``, queues again jobs whose lease
ran out (at every pass, not only at start), hands its own jobs back when it stops, and stops a
job whose lease another process has taken over. Files::

    <data_dir>/exports/<job id>.mp4              the export (whole and fsynced, or absent)
    <data_dir>/exports/<job id>.manifest.json    the signed manifest

A job fails with a plain sentence in ``error``: nothing recorded in the range, a segment file
missing, or altered since it was recorded (:class:`IntegrityError`) — never an export built
from bytes that differ from the index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels
from vigil.recording import export_jobs
from vigil.recording.errors import ExportError, RecordingInputError
from vigil.recording.export_file import write_export_file, write_file_atomically
from vigil.recording.export_jobs import ExportJob
from vigil.recording.export_manifest import (
    MANIFEST_SUFFIX,
    MP4_SUFFIX,
    ExportVerdict,
    build_manifest,
    document_bytes,
    sign_manifest,
    verify_document,
    verify_export,
)
from vigil.recording.export_plan import plan_export
from vigil.recording.index import segments_between
from vigil.recording.platform_key import fingerprint, load_or_create_platform_key, public_key_pem
from vigil.settings import Settings

logger = logging.getLogger(__name__)

EXPORTS_DIR_NAME = "exports"
MAX_REASON_CHARS = 2000


@dataclass(slots=True)
class _Progress:
    total_bytes: int
    read_bytes: int = 0

    def update(self, read_bytes: int) -> None:  # called from the export thread
        self.read_bytes = read_bytes

    @property
    def fraction(self) -> float:
        return min(0.99, self.read_bytes / self.total_bytes) if self.total_bytes else 0.0


class ExportService:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        exports_dir: Path,
        pool_dirs: Mapping[str, Path],
        signing_key: Ed25519PrivateKey,
        platform_id: str,
        max_duration_s: int,
        concurrency: int,
        fsync: bool = True,
        poll_interval_s: float = 5.0,
        progress_interval_s: float = 1.0,
        keep_days: int = 0,
        expiry_interval_s: float = 3600.0,
        lease_s: float = export_jobs.DEFAULT_LEASE_S,
    ) -> None:
        self.engine = engine
        self.exports_dir = exports_dir
        self.pool_dirs = dict(pool_dirs)
        self.signing_key = signing_key
        self.public_key: Ed25519PublicKey = signing_key.public_key()
        self.platform_id = platform_id
        self.max_duration_s = max_duration_s
        self.concurrency = concurrency
        self.fsync = fsync
        self.poll_interval_s = poll_interval_s
        self.progress_interval_s = progress_interval_s
        self.keep_days = keep_days
        self.expiry_interval_s = expiry_interval_s
        self._next_expiry_s = 0.0  # event-loop time of the next expiry pass
        self.lease_s = lease_s
        # Unique per service instance, readable in the table: which host and process.
        self.lease_owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"
        self._wake = asyncio.Event()
        self._running: dict[str, asyncio.Task[None]] = {}

    @classmethod
    def from_settings(cls, engine: AsyncEngine, settings: Settings) -> ExportService:
        data_dir = settings.data_dir.resolve()
        return cls(
            engine,
            exports_dir=data_dir / EXPORTS_DIR_NAME,
            pool_dirs={pool.name: pool.path for pool in settings.storage_pools},
            signing_key=load_or_create_platform_key(data_dir),
            platform_id=settings.sip.id,
            max_duration_s=settings.recording.export_max_s,
            concurrency=settings.recording.export_concurrency,
            fsync=settings.recording.fsync,
            keep_days=settings.recording.export_keep_days,
        )

    # ---- what the API uses -------------------------------------------------------------

    @property
    def public_key_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    @property
    def key_fingerprint(self) -> str:
        return fingerprint(self.public_key)

    def mp4_path(self, job_id: str) -> Path:
        return self.exports_dir / f"{job_id}{MP4_SUFFIX}"

    def manifest_path(self, job_id: str) -> Path:
        return self.exports_dir / f"{job_id}{MANIFEST_SUFFIX}"

    async def submit(
        self, channel_id: str, start: datetime, end: datetime, *, requested_by: str, reason: str
    ) -> ExportJob:
        """Queue an export of [start, end); RecordingInputError/ExportError when it cannot be."""
        if start.tzinfo is None or end.tzinfo is None:
            raise RecordingInputError("start and end need a time zone (UTC offset)")
        if end <= start:
            raise RecordingInputError("the end of the range must be after its start")
        if end - start > timedelta(seconds=self.max_duration_s):
            raise RecordingInputError(
                f"an export covers at most {self.max_duration_s} s; split the range"
            )
        reason = reason.strip()
        if not reason:
            raise RecordingInputError("an export needs a reason")
        if len(reason) > MAX_REASON_CHARS:
            raise RecordingInputError(f"the reason is longer than {MAX_REASON_CHARS} characters")
        if not await segments_between(self.engine, channel_id, start, end):
            raise ExportError("nothing is recorded in the requested range")
        job = await export_jobs.create_job(
            self.engine,
            channel_id=channel_id,
            start_at=start.astimezone(UTC),
            end_at=end.astimezone(UTC),
            requested_by=requested_by,
            reason=reason,
        )
        self._wake.set()
        return job

    async def verify_job(self, job: ExportJob) -> ExportVerdict:
        """Re-check a finished job's files on disk against its signed manifest."""
        return await asyncio.to_thread(verify_export, self.mp4_path(job.id), self.public_key)

    def verify_uploaded(
        self,
        document: Mapping[str, Any],
        *,
        file_sha256_hex: str | None = None,
        file_size_bytes: int | None = None,
    ) -> ExportVerdict:
        return verify_document(
            document,
            self.public_key,
            file_sha256_hex=file_sha256_hex,
            file_size_bytes=file_size_bytes,
        )

    # ---- the component -----------------------------------------------------------------

    async def run(self) -> None:
        """Run queued jobs until cancelled, at most ``concurrency`` at a time."""
        leased = await export_jobs.leased_job_ids(self.engine)
        await asyncio.to_thread(self._prepare_directory, leased)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._keep_leases())
                while True:
                    await self._expire_due()
                    requeued = await export_jobs.requeue_expired(self.engine)
                    if requeued:
                        logger.info("requeued %d export jobs whose lease ran out", requeued)
                    await self._claim_queued(group)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval_s):
                            await self._wake.wait()
                    self._wake.clear()
        finally:
            await self._release_leases()

    async def _claim_queued(self, group: asyncio.TaskGroup) -> None:
        free = self.concurrency - len(self._running)
        if free <= 0:
            return
        for job_id in await export_jobs.queued_job_ids(self.engine, free):
            claimed = await export_jobs.claim_job(
                self.engine, job_id, owner=self.lease_owner, lease_s=self.lease_s
            )
            if claimed:
                self._running[job_id] = group.create_task(self._run_job(job_id))

    async def _keep_leases(self) -> None:
        """Renew the lease of every job running here; stop one whose lease was lost (this
        process stalled past it and another one requeued the job)."""
        while True:
            await asyncio.sleep(self.lease_s / 3)
            for job_id, task in list(self._running.items()):
                held = await export_jobs.renew_lease(
                    self.engine, job_id, owner=self.lease_owner, lease_s=self.lease_s
                )
                if not held:
                    logger.warning("export %s: lease lost to another process, stopping", job_id)
                    task.cancel()

    async def _release_leases(self) -> None:
        """Stopping: queue this process's jobs again now rather than when their leases end."""
        try:
            released = await export_jobs.release_leases(self.engine, self.lease_owner)
        except Exception:  # supervision boundary: the leases then simply run out
            logger.exception("export leases of %s not released", self.lease_owner)
            return
        if released:
            logger.info("handed %d running export jobs back to the queue", released)

    async def expire(self, now: datetime | None = None) -> int:
        """Remove the MP4s of exports finished more than ``keep_days`` ago; the signed
        manifests and the job rows stay (the job becomes ``expired``). Returns how many."""
        if self.keep_days <= 0:
            return 0
        cutoff = (now or datetime.now(UTC)) - timedelta(days=self.keep_days)
        due = await export_jobs.expired_job_ids(self.engine, cutoff)
        for job_id in due:
            # The row first: from then on nobody is offered the file, then it goes.
            await export_jobs.mark_expired(self.engine, job_id)
            await asyncio.to_thread(self.mp4_path(job_id).unlink, missing_ok=True)
        if due:
            logger.info("removed %d export files older than %d days", len(due), self.keep_days)
        return len(due)

    async def _expire_due(self) -> None:
        now_s = asyncio.get_running_loop().time()
        if now_s >= self._next_expiry_s:
            self._next_expiry_s = now_s + self.expiry_interval_s
            await self.expire()

    def _prepare_directory(self, leased: set[str]) -> None:
        self.exports_dir.mkdir(mode=0o750, parents=True, exist_ok=True)
        for leftover in self.exports_dir.glob(".*.partial"):
            # A stop in the middle of writing, unless a process holding the job's lease is
            # writing it right now (".<job id>.mp4.partial").
            if leftover.name[1:].split(".", 1)[0] not in leased:
                leftover.unlink(missing_ok=True)

    async def _run_job(self, job_id: str) -> None:
        try:
            job = await export_jobs.get_job(self.engine, job_id)
            if job is None:
                return
            await self._execute(job)
        except ExportError as exc:
            logger.warning("export %s failed: %s", job_id, exc)
            await export_jobs.fail_job(self.engine, job_id, str(exc), owner=self.lease_owner)
        except Exception as exc:  # supervision boundary: one job's failure ends only that job
            logger.exception("export %s failed", job_id)
            await export_jobs.fail_job(
                self.engine, job_id, f"internal error: {exc}", owner=self.lease_owner
            )
        finally:
            self._running.pop(job_id, None)
            self._wake.set()

    async def _execute(self, job: ExportJob) -> None:
        rows = await segments_between(self.engine, job.channel_id, job.start_at, job.end_at)
        plan = plan_export(job.channel_id, job.start_at, job.end_at, rows)
        progress = _Progress(plan.read_size_bytes)
        target = self.mp4_path(job.id)
        await asyncio.to_thread(self.exports_dir.mkdir, mode=0o750, parents=True, exist_ok=True)
        stop = threading.Event()  # a cancelled job (platform stopping) ends its thread too
        try:
            async with asyncio.TaskGroup() as group:
                reporter = group.create_task(self._report_progress(job.id, progress))
                try:
                    result = await asyncio.to_thread(
                        write_export_file,
                        plan,
                        self.pool_dirs,
                        target,
                        fsync=self.fsync,
                        progress=progress.update,
                        stop=stop,
                    )
                except asyncio.CancelledError:
                    stop.set()  # stopping or lease lost: the job is (or goes) back in the queue
                    raise
                finally:
                    reporter.cancel()
        except* ExportError as failed:
            raise failed.exceptions[0] from None
        manifest = build_manifest(
            plan,
            result,
            job_id=job.id,
            file_name=target.name,
            channel_name=await self._channel_name(job.channel_id),
            platform_id=self.platform_id,
            requested_by=job.requested_by,
            reason=job.reason,
            created_at=datetime.now(UTC),
        )
        document = document_bytes(sign_manifest(manifest, self.signing_key))
        await asyncio.to_thread(
            write_file_atomically, self.manifest_path(job.id), document, fsync=self.fsync
        )
        finished = await export_jobs.finish_job(
            self.engine, job.id, owner=self.lease_owner, path=target.name,
            size_bytes=result.size_bytes,
        )  # fmt: skip
        if not finished:  # this process stalled past its lease; the new owner's result counts
            logger.warning("export %s: written here, but its lease had passed on", job.id)
            return
        logger.info(
            "export %s of %s done: %d bytes, %d frames, %d gaps",
            job.id, job.channel_id, result.size_bytes, plan.frames, len(plan.gaps),
        )  # fmt: skip

    async def _report_progress(self, job_id: str, progress: _Progress) -> None:
        last = -1.0
        while True:
            await asyncio.sleep(self.progress_interval_s)
            if progress.fraction != last:
                last = progress.fraction
                await export_jobs.set_progress(self.engine, job_id, last, owner=self.lease_owner)

    async def _channel_name(self, channel_id: str) -> str:
        async with self.engine.connect() as conn:
            name = await conn.scalar(sa.select(channels.c.name).where(channels.c.id == channel_id))
        return str(name) if name is not None else ""


def exports_dir_of(data_dir: Path) -> Path:
    return data_dir / EXPORTS_DIR_NAME
