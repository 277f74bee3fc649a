"""Device download rows on SQLite and PostgreSQL: listing by owner and scope, the claim
that lets one worker run a job, requeueing after a stop, and removal of jobs not running."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from tests.registry.seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, SEED_REGIONS, point_id
from vigil.device_downloads import jobs
from vigil.registry.channels import ChannelFields, create_channel
from vigil.registry.regions import import_regions
from vigil.registry.scope import UNRESTRICTED

START = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
CAM_A, CAM_B = point_id(COUNTY_A, 1), point_id(COUNTY_B, 1)


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await import_regions(conn, UNRESTRICTED, SEED_REGIONS)
        for channel_id, region in ((CAM_A, COUNTY_A), (CAM_B, COUNTY_B)):
            fields = ChannelFields(name="路口", region_code=region)
            await create_channel(conn, UNRESTRICTED, channel_id, fields, retention=RETENTION)


async def _job(engine: AsyncEngine, channel_id: str, owner: str) -> jobs.DownloadJob:
    return await jobs.create_job(
        engine, channel_id=channel_id, device_id=channel_id, requested_by=owner,
        start_at=START, end_at=START + timedelta(minutes=5), speed=4,
    )  # fmt: skip


async def test_listing_follows_owner_and_scope(engine: AsyncEngine) -> None:
    await _seed(engine)
    a_by_ann = await _job(engine, CAM_A, "ann")
    b_by_ann = await _job(engine, CAM_B, "ann")
    a_by_bob = await _job(engine, CAM_A, "bob")
    assert a_by_ann.window_s == (int(START.timestamp()), int(START.timestamp()) + 300)

    def ids(found: tuple[list[jobs.DownloadJob], int]) -> set[str]:
        assert len(found[0]) == found[1]
        return {job.id for job in found[0]}

    everything = await jobs.list_jobs(engine, UNRESTRICTED)
    assert ids(everything) == {a_by_ann.id, b_by_ann.id, a_by_bob.id}
    assert ids(await jobs.list_jobs(engine, SCOPE_A)) == {a_by_ann.id, a_by_bob.id}
    assert ids(await jobs.list_jobs(engine, SCOPE_A, requested_by="ann")) == {a_by_ann.id}


async def test_claim_requeue_and_delete(engine: AsyncEngine) -> None:
    job = await _job(engine, CAM_A, "ann")
    assert await jobs.queued_job_ids(engine, 5) == [job.id]
    assert await jobs.claim_job(engine, job.id)
    assert not await jobs.claim_job(engine, job.id)  # one worker only
    await jobs.set_progress(engine, job.id, progress=0.5, size_bytes=1000, frames=25)
    assert not await jobs.delete_job(engine, job.id)  # running
    assert await jobs.requeue_interrupted(engine) == 1
    again = await jobs.get_job(engine, job.id)
    assert again is not None
    assert (again.state, again.progress, again.size_bytes) == ("queued", 0.0, 0)
    assert await jobs.claim_job(engine, job.id)
    await jobs.fail_job(engine, job.id, "x" * 5000)
    failed = await jobs.get_job(engine, job.id)
    assert failed is not None
    assert failed.state == "failed"
    assert failed.error is not None
    assert len(failed.error) == jobs.MAX_ERROR_CHARS
    assert failed.finished_at is not None
    assert await jobs.delete_job(engine, job.id)
    assert await jobs.get_job(engine, job.id) is None
