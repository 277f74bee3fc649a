"""Export job rows (``export_jobs``): create, claim, progress, finish, read.

States: ``queued`` → ``running`` → ``done`` | ``failed``. A job is claimed with a
conditional update (queued → running) so two processes never run the same job; jobs left
``running`` by a process that stopped are put back in the queue at the next start.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import export_jobs

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
EXPIRED = "expired"  # done, then the MP4 was removed after export_keep_days; manifest kept
MAX_ERROR_CHARS = 2000


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


async def claim_job(engine: AsyncEngine, job_id: str) -> bool:
    """queued → running; False when another worker took it first."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.id == job_id, export_jobs.c.state == QUEUED)
            .values(state=RUNNING, progress=0.0, error=None)
        )
    return result.rowcount == 1


async def requeue_interrupted(engine: AsyncEngine) -> int:
    """Put jobs a stopped process left running back in the queue."""
    async with engine.begin() as conn:
        result = await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.state == RUNNING)
            .values(state=QUEUED, progress=0.0)
        )
    return int(result.rowcount or 0)


async def set_progress(engine: AsyncEngine, job_id: str, progress: float) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.id == job_id, export_jobs.c.state == RUNNING)
            .values(progress=max(0.0, min(1.0, progress)))
        )


async def finish_job(engine: AsyncEngine, job_id: str, *, path: str, size_bytes: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.id == job_id)
            .values(
                state=DONE,
                progress=1.0,
                path=path,
                size_bytes=size_bytes,
                error=None,
                finished_at=datetime.now(UTC),
            )
        )


async def fail_job(engine: AsyncEngine, job_id: str, error: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            export_jobs.update()
            .where(export_jobs.c.id == job_id)
            .values(state=FAILED, error=error[:MAX_ERROR_CHARS], finished_at=datetime.now(UTC))
        )


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
