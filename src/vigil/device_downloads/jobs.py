"""Device download rows (``device_downloads``): create, claim, progress, finish, read, delete.

States: ``queued`` → ``running`` → ``done`` | ``failed``. A job is claimed with a
conditional update (queued → running), so two workers never run the same job; jobs a
stopped process left ``running`` are queued again at the next start (the download starts
over: a device cannot resume a Download session where the last one stopped).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels, device_downloads
from vigil.registry.scope import Scope

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
ENDED = (DONE, FAILED)
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True, slots=True)
class DownloadJob:
    id: str
    channel_id: str
    device_id: str
    requested_by: str
    start_at: datetime
    end_at: datetime
    speed: int
    state: str
    progress: float
    size_bytes: int
    frames: int
    path: str | None  # the MP4, relative to the downloads directory
    sha256: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def window_s(self) -> tuple[int, int]:
        """The window in Unix seconds, as the INVITE's ``t=`` line carries it."""
        return int(self.start_at.timestamp()), int(self.end_at.timestamp())


def _job(row: sa.Row[tuple[object, ...]]) -> DownloadJob:
    m = row._mapping
    return DownloadJob(
        id=str(m["id"]),
        channel_id=str(m["channel_id"]),
        device_id=str(m["device_id"]),
        requested_by=str(m["requested_by"]),
        start_at=m["start_at"],
        end_at=m["end_at"],
        speed=int(m["speed"]),
        state=str(m["state"]),
        progress=float(m["progress"]),
        size_bytes=int(m["size_bytes"]),
        frames=int(m["frames"]),
        path=m["path"],
        sha256=m["sha256"],
        error=m["error"],
        created_at=m["created_at"],
        finished_at=m["finished_at"],
    )


async def create_job(
    engine: AsyncEngine,
    *,
    channel_id: str,
    device_id: str,
    requested_by: str,
    start_at: datetime,
    end_at: datetime,
    speed: int,
) -> DownloadJob:
    job_id = secrets.token_hex(16)
    async with engine.begin() as conn:
        await conn.execute(
            device_downloads.insert().values(
                id=job_id,
                channel_id=channel_id,
                device_id=device_id,
                requested_by=requested_by,
                start_at=start_at.astimezone(UTC),
                end_at=end_at.astimezone(UTC),
                speed=speed,
                state=QUEUED,
                progress=0.0,
                size_bytes=0,
                frames=0,
                created_at=datetime.now(UTC),
            )
        )
    job = await get_job(engine, job_id)
    assert job is not None
    return job


async def get_job(engine: AsyncEngine, job_id: str) -> DownloadJob | None:
    query = sa.select(device_downloads).where(device_downloads.c.id == job_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return _job(row) if row is not None else None


async def list_jobs(
    engine: AsyncEngine,
    scope: Scope,
    *,
    requested_by: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[DownloadJob], int]:
    """Jobs on channels in ``scope``, newest first; only ``requested_by``'s when given."""
    condition: sa.ColumnElement[bool] = sa.true()  # unrestricted: also removed channels
    if not scope.unrestricted:
        in_scope = sa.select(channels.c.id).where(scope.clause(channels))
        condition = device_downloads.c.channel_id.in_(in_scope)
    if requested_by is not None:
        condition = sa.and_(condition, device_downloads.c.requested_by == requested_by)
    query = (
        sa.select(device_downloads)
        .where(condition)
        .order_by(device_downloads.c.created_at.desc(), device_downloads.c.id)
        .limit(limit)
        .offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(device_downloads).where(condition)
    async with engine.connect() as conn:
        jobs = [_job(row) for row in await conn.execute(query)]
        total = await conn.scalar(count)
    return jobs, int(total or 0)


async def queued_job_ids(engine: AsyncEngine, limit: int) -> list[str]:
    query = (
        sa.select(device_downloads.c.id)
        .where(device_downloads.c.state == QUEUED)
        .order_by(device_downloads.c.created_at, device_downloads.c.id)
        .limit(limit)
    )
    async with engine.connect() as conn:
        return [str(job_id) for job_id in await conn.scalars(query)]


async def claim_job(engine: AsyncEngine, job_id: str) -> bool:
    """queued → running; False when another worker took it first (or it was deleted)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            device_downloads.update()
            .where(device_downloads.c.id == job_id, device_downloads.c.state == QUEUED)
            .values(state=RUNNING, progress=0.0, size_bytes=0, frames=0, error=None)
        )
    return result.rowcount == 1


async def requeue_interrupted(engine: AsyncEngine) -> int:
    """Put jobs a stopped process left running back in the queue; returns how many."""
    async with engine.begin() as conn:
        result = await conn.execute(
            device_downloads.update()
            .where(device_downloads.c.state == RUNNING)
            .values(state=QUEUED, progress=0.0, size_bytes=0, frames=0)
        )
    return int(result.rowcount or 0)


async def set_progress(
    engine: AsyncEngine, job_id: str, *, progress: float, size_bytes: int, frames: int
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            device_downloads.update()
            .where(device_downloads.c.id == job_id, device_downloads.c.state == RUNNING)
            .values(progress=max(0.0, min(1.0, progress)), size_bytes=size_bytes, frames=frames)
        )


async def finish_job(
    engine: AsyncEngine, job_id: str, *, path: str, size_bytes: int, frames: int, sha256: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            device_downloads.update()
            .where(device_downloads.c.id == job_id)
            .values(
                state=DONE,
                progress=1.0,
                path=path,
                size_bytes=size_bytes,
                frames=frames,
                sha256=sha256,
                error=None,
                finished_at=datetime.now(UTC),
            )
        )


async def fail_job(engine: AsyncEngine, job_id: str, error: str) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            device_downloads.update()
            .where(device_downloads.c.id == job_id)
            .values(state=FAILED, error=error[:MAX_ERROR_CHARS], finished_at=datetime.now(UTC))
        )


async def delete_job(engine: AsyncEngine, job_id: str) -> bool:
    """Remove a job that is not running; False when it is running (or already gone)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            device_downloads.delete().where(
                device_downloads.c.id == job_id, device_downloads.c.state != RUNNING
            )
        )
    return result.rowcount == 1
