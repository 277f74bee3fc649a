"""Export jobs under leases, with several platform processes on one database (each process
here is an ExportService with its own engine and exports directory, sharing the pool): a
live lease is never taken over, an expired one is queued again and the job finished once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.recording.export_recordings import (
    CHANNEL,
    T0,
    export_service,
    record_two_runs,
    wait_finished,
)
from vigil.db.engine import create_engine
from vigil.db.tables import export_jobs as export_jobs_table
from vigil.recording import export_jobs
from vigil.recording.export_jobs import ExportJob, get_job
from vigil.recording.export_service import ExportService


@pytest.fixture
async def other_engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """A second process's own connection pool on the same database."""
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@contextlib.asynccontextmanager
async def running(*services: ExportService) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(service.run()) for service in services]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
def done_lines(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="vigil.recording.export_service")
    return caplog


def finished_here(caplog: pytest.LogCaptureFixture, job_id: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage().startswith(f"export {job_id} of "))


async def queued_job(engine: AsyncEngine, pool: Path) -> ExportJob:
    await record_two_runs(engine, pool)
    return await export_jobs.create_job(
        engine,
        channel_id=CHANNEL,
        start_at=T0,
        end_at=T0 + timedelta(seconds=2),
        requested_by="a",
        reason="lease",
    )


async def test_a_lease_is_claimed_renewed_and_expires_by_the_clock(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    job = await queued_job(engine, tmp_path / "pool")
    now = datetime.now(UTC)
    assert await export_jobs.claim_job(engine, job.id, owner="a", lease_s=60, now=now)
    assert not await export_jobs.claim_job(engine, job.id, owner="b", lease_s=60, now=now)
    assert await export_jobs.leased_job_ids(engine, now) == {job.id}
    assert await export_jobs.requeue_expired(engine, now + timedelta(seconds=59)) == 0
    assert not await export_jobs.renew_lease(engine, job.id, owner="b", lease_s=60)
    assert await export_jobs.renew_lease(
        engine, job.id, owner="a", lease_s=60, now=now + timedelta(seconds=30)
    )
    assert await export_jobs.requeue_expired(engine, now + timedelta(seconds=89)) == 0
    assert await export_jobs.requeue_expired(engine, now + timedelta(seconds=91)) == 1
    assert await state_of(engine, job.id) == "queued"

    # "a" stalled past its lease and "b" took the job over: "a" can no longer write it.
    assert await export_jobs.claim_job(engine, job.id, owner="b", lease_s=60)
    assert not await export_jobs.renew_lease(engine, job.id, owner="a", lease_s=60)
    await export_jobs.set_progress(engine, job.id, 0.5, owner="a")
    assert not await export_jobs.finish_job(engine, job.id, owner="a", path="x.mp4", size_bytes=1)
    assert not await export_jobs.fail_job(engine, job.id, "late", owner="a")
    assert await export_jobs.finish_job(engine, job.id, owner="b", path="y.mp4", size_bytes=2)
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(export_jobs_table).where(export_jobs_table.c.id == job.id))
        ).one()
    assert (row.state, row.path, row.progress) == ("done", "y.mp4", 1.0)
    assert (row.lease_owner, row.lease_until) == (None, None)


async def test_a_running_row_without_a_lease_counts_as_expired(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    job = await queued_job(engine, tmp_path / "pool")
    async with engine.begin() as conn:  # as an earlier version left it: running, no lease
        await conn.execute(
            export_jobs_table.update()
            .where(export_jobs_table.c.id == job.id)
            .values(state="running")
        )
    assert await export_jobs.requeue_expired(engine) == 1


async def test_a_second_process_starting_leaves_a_live_lease_alone(
    engine: AsyncEngine, other_engine: AsyncEngine, tmp_path: Path
) -> None:
    job = await queued_job(engine, tmp_path / "pool")
    first = export_service(engine, tmp_path / "host", tmp_path / "pool")
    second = export_service(other_engine, tmp_path / "host", tmp_path / "pool")  # same data dir
    # The first process holds the job and is writing it.
    assert await export_jobs.claim_job(
        engine, job.id, owner=first.lease_owner, lease_s=first.lease_s
    )
    first.exports_dir.mkdir(parents=True)
    partial = first.exports_dir / f".{job.id}.mp4.partial"
    partial.write_bytes(b"being written")
    async with running(second):
        await asyncio.sleep(20 * second.poll_interval_s)  # many passes of the second
        held = await state_of(other_engine, job.id)
    assert held == "running"
    assert await export_jobs.leased_job_ids(other_engine) == {job.id}
    assert partial.exists()  # the start-up cleaning spares a file under a live lease
    assert not second.mp4_path(job.id).exists()

    # The first process stops and hands the job back: the second runs it at once.
    assert await export_jobs.release_leases(engine, first.lease_owner) == 1
    async with running(second):
        done = await wait_finished(second, job.id)
    assert done.state == "done"


async def test_an_expired_lease_is_requeued_and_the_job_finished_once(
    engine: AsyncEngine,
    other_engine: AsyncEngine,
    tmp_path: Path,
    done_lines: pytest.LogCaptureFixture,
) -> None:
    job = await queued_job(engine, tmp_path / "pool")
    # A process claimed the job and died (kill -9): nobody renews its short lease.
    assert await export_jobs.claim_job(engine, job.id, owner="dead-host:1:0", lease_s=0.3)
    second = export_service(engine, tmp_path / "second", tmp_path / "pool")
    third = export_service(other_engine, tmp_path / "third", tmp_path / "pool")
    async with running(second, third):
        done = await wait_finished(second, job.id)
        await asyncio.sleep(10 * second.poll_interval_s)  # room for a second run, if any
    assert done.state == "done"
    assert finished_here(done_lines, job.id) == 1
    outputs = [s.mp4_path(job.id).exists() for s in (second, third)]
    assert sorted(outputs) == [False, True]


async def test_a_running_job_keeps_its_lease_while_it_works(
    engine: AsyncEngine,
    other_engine: AsyncEngine,
    db_url: str,
    tmp_path: Path,
    done_lines: pytest.LogCaptureFixture,
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("a table lock holds the job mid-way on PostgreSQL; SQLite readers never wait")
    job = await queued_job(engine, tmp_path / "pool")
    first = export_service(engine, tmp_path / "first", tmp_path / "pool")
    first.lease_s = 0.6  # renewed every 0.2 s
    second = export_service(other_engine, tmp_path / "second", tmp_path / "pool")
    locker = create_engine(db_url)
    try:
        async with locker.connect() as lock_conn:
            # The job's first step reads the segment index: hold it there for many leases.
            transaction = await lock_conn.begin()
            await lock_conn.execute(sa.text("LOCK TABLE segments IN ACCESS EXCLUSIVE MODE"))
            async with running(first):
                await wait_leased(engine, job.id)
                claimed_until = await lease_until(engine, job.id)
                async with running(second):
                    await asyncio.sleep(6 * first.lease_s)
                    assert await lease_until(other_engine, job.id) > claimed_until  # renewed
                    assert await state_of(other_engine, job.id) == "running"
                    await transaction.rollback()  # the index is readable again
                    done = await wait_finished(first, job.id)
    finally:
        await locker.dispose()
    assert done.state == "done"
    assert finished_here(done_lines, job.id) == 1
    assert first.mp4_path(job.id).exists()
    assert not second.mp4_path(job.id).exists()


async def lease_until(engine: AsyncEngine, job_id: str) -> datetime:
    async with engine.connect() as conn:
        value = await conn.scalar(
            sa.select(export_jobs_table.c.lease_until).where(export_jobs_table.c.id == job_id)
        )
    assert isinstance(value, datetime)
    return value


async def state_of(engine: AsyncEngine, job_id: str) -> str:
    job = await get_job(engine, job_id)
    assert job is not None
    return job.state


async def wait_leased(engine: AsyncEngine, job_id: str, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if job_id in await export_jobs.leased_job_ids(engine):
                return
            await asyncio.sleep(0.02)
