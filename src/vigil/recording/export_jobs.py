"""Export job rows (``export_jobs``): create, claim, lease, progress, finish, read.

States: ``queued`` → ``running`` → ``done`` | ``failed``. Several platform processes may
share one database, so a running job is held under a lease: ``lease_owner`` names the
process running it and ``lease_until`` says until when the row is its. Claiming is one
conditional update (queued → running, owner and expiry set together), so two processes never
both take a job; the owner renews the lease while it works; a job whose lease ran out (its
process died or hung) is put back in the queue by whichever process looks next, and a stopping
process hands its jobs back at once. Progress, finish and failure are written only by the
current owner, so a process that lost its lease cannot overwrite the one that took over.

Expiry compares each process's clock with the times other processes wrote: hosts sharing a
database keep their clocks synchronised (NTP) well within a lease.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import export_jobs

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
EXPIRED = "expired"  # done, then the MP4 was removed after export_keep_days; manifest kept
MAX_ERROR_CHARS = 2000
DEFAULT_LEASE_S = 60.0  # renewed every third of it: two missed renewals still hold the job


@dataclass(frozen=True, slots=True)
class ExportJob:
    id: str
    channel_id: str
    start_at: datetime
    end_at: datetime
    requested_by: str
    reason: str
    state: str
    progress: float
    size_bytes: int | None
    path: str | None  # the MP4, relative to the exports directory
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "channel_id": self.channel_id,
            "start": self.start_at,
            "end": self.end_at,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "state": self.state,
            "progress": self.progress,
            "size_bytes": self.size_bytes,
            "error": self.error,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
        }


def _job(row: sa.Row[tuple[object, ...]]) -> ExportJob:
    m = row._mapping
    size = m["size_bytes"]
    return ExportJob(
        id=str(m["id"]),
        channel_id=str(m["channel_id"]),
        start_at=m["start_at"],
        end_at=m["end_at"],
        requested_by=str(m["requested_by"]),
        reason=str(m["reason"]),
        state=str(m["state"]),
        progress=float(m["progress"]),
        size_bytes=int(size) if size is not None else None,
        path=m["path"],
        error=m["error"],
        created_at=m["created_at"],
        finished_at=m["finished_at"],
    )


async def create_job(
    engine: AsyncEngine,
    *,
    channel_id: str,
    start_at: datetime,
    end_at: datetime,
    requested_by: str,
    reason: str,
) -> ExportJob:
    job_id = secrets.token_hex(16)
    async with engine.begin() as conn:
        await conn.execute(
            export_jobs.insert().values(
                id=job_id,
                channel_id=channel_id,
                start_at=start_at,
                end_at=end_at,
                requested_by=requested_by,
                reason=reason,
                state=QUEUED,
                progress=0.0,
                created_at=datetime.now(UTC),
            )
        )
    job = await get_job(engine, job_id)
    assert job is not None
    return job


async def get_job(engine: AsyncEngine, job_id: str) -> ExportJob | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(export_jobs).where(export_jobs.c.id == job_id))).first()
    return _job(row) if row is not None else None


async def list_jobs(
    engine: AsyncEngine, *, requested_by: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[ExportJob], int]:
    """Newest first; only ``requested_by``'s jobs when given."""
    condition = sa.true() if requested_by is None else export_jobs.c.requested_by == requested_by
    query = (
        sa.select(export_jobs)
        .where(condition)
        .order_by(export_jobs.c.created_at.desc(), export_jobs.c.id)
        .limit(limit)
        .offset(offset)
    )
    async with engine.connect() as conn:
        rows = [_job(row) for row in await conn.execute(query)]
        total = await conn.scalar(
            sa.select(sa.func.count()).select_from(export_jobs).where(condition)
        )
    return rows, int(total or 0)


async def queued_job_ids(engine: AsyncEngine, limit: int) -> list[str]:
    query = (
        sa.select(export_jobs.c.id)
        .where(export_jobs.c.state == QUEUED)
        .order_by(export_jobs.c.created_at, export_jobs.c.id)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [str(job_id) for job_id in await conn.scalars(query)]


def _lease_end(lease_s: float, now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)) + timedelta(seconds=lease_s)


def _held_by(job_id: str, owner: str) -> sa.ColumnElement[bool]:
    return sa.and_(
        export_jobs.c.id == job_id,
        export_jobs.c.state == RUNNING,
        export_jobs.c.lease_owner == owner,
    )


async def claim_job(
    engine: AsyncEngine, job_id: str, *, owner: str, lease_s: float, now: datetime | None = None
) -> bool:
    """queued → running under ``owner``'s lease; False when another worker took it first."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.id == job_id, export_jobs.c.state == QUEUED)
            .values(
                state=RUNNING,
                progress=0.0,
                error=None,
                lease_owner=owner,
                lease_until=_lease_end(lease_s, now),
            )
        )
    return result.rowcount == 1


async def renew_lease(
    engine: AsyncEngine, job_id: str, *, owner: str, lease_s: float, now: datetime | None = None
) -> bool:
    """Extend ``owner``'s lease on a running job; False when the job is no longer its."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(_held_by(job_id, owner))
            .values(lease_until=_lease_end(lease_s, now))
        )
    return result.rowcount == 1


async def requeue_expired(engine: AsyncEngine, now: datetime | None = None) -> int:
    """Put running jobs whose lease ran out back in the queue. A running row without a lease
    was left by a version that kept none: nobody renews it, so it counts as expired."""
    expired = sa.or_(
        export_jobs.c.lease_until.is_(None), export_jobs.c.lease_until < (now or datetime.now(UTC))
    )
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.state == RUNNING, expired)
            .values(state=QUEUED, progress=0.0, lease_owner=None, lease_until=None)
        )
    return int(result.rowcount or 0)


async def release_leases(engine: AsyncEngine, owner: str) -> int:
    """Queue again the jobs ``owner`` was running (it is stopping): no need to wait out
    their leases."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.state == RUNNING, export_jobs.c.lease_owner == owner)
            .values(state=QUEUED, progress=0.0, lease_owner=None, lease_until=None)
        )
    return int(result.rowcount or 0)


async def leased_job_ids(engine: AsyncEngine, now: datetime | None = None) -> set[str]:
    """Running jobs whose lease still holds (some process is working on them)."""
    query = sa.select(export_jobs.c.id).where(
        export_jobs.c.state == RUNNING, export_jobs.c.lease_until >= (now or datetime.now(UTC))
    )
    async with engine.connect() as conn:
        return {str(job_id) for job_id in await conn.scalars(query)}


async def set_progress(engine: AsyncEngine, job_id: str, progress: float, *, owner: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            export_jobs.update()
            .where(_held_by(job_id, owner))
            .values(progress=max(0.0, min(1.0, progress)))
        )


async def finish_job(
    engine: AsyncEngine, job_id: str, *, owner: str, path: str, size_bytes: int
) -> bool:
    """running → done; False (nothing written) when the lease had passed to another owner."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(_held_by(job_id, owner))
            .values(
                state=DONE,
                progress=1.0,
                path=path,
                size_bytes=size_bytes,
                error=None,
                finished_at=datetime.now(UTC),
                lease_owner=None,
                lease_until=None,
            )
        )
    return result.rowcount == 1


async def fail_job(engine: AsyncEngine, job_id: str, error: str, *, owner: str) -> bool:
    """running → failed; False (nothing written) when the lease had passed to another owner."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(_held_by(job_id, owner))
            .values(
                state=FAILED,
                error=error[:MAX_ERROR_CHARS],
                finished_at=datetime.now(UTC),
                lease_owner=None,
                lease_until=None,
            )
        )
    return result.rowcount == 1


async def expired_job_ids(engine: AsyncEngine, finished_before: datetime) -> list[str]:
    """Finished exports whose MP4 is due for removal."""
    query = sa.select(export_jobs.c.id).where(
        export_jobs.c.state == DONE, export_jobs.c.finished_at < finished_before
    )
    async with engine.connect() as conn:
        return [str(job_id) for job_id in await conn.scalars(query)]


async def mark_expired(engine: AsyncEngine, job_id: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.id == job_id, export_jobs.c.state == DONE)
            .values(state=EXPIRED, path=None)
        )
