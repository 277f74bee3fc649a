"""Export API: jobs, permissions and scope, downloads, audit, verification."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import Login, add_user, seed_two_counties
from tests.recording.export_recordings import CHANNEL, T0, export_service, record_two_runs
from vigil.access.roles import Role
from vigil.api.context import ApiContext
from vigil.recording.export_service import ExportService
from vigil.recording.platform_key import fingerprint, load_public_key

RANGE = {
    "start": (T0 + timedelta(seconds=1)).isoformat(),
    "end": (T0 + timedelta(seconds=5)).isoformat(),
    "reason": "case 2026-117",
}


@pytest.fixture
async def exports(api_ctx: ApiContext, tmp_path: Path) -> AsyncIterator[ExportService]:
    await record_two_runs(api_ctx.engine, tmp_path / "pool")
    service = export_service(api_ctx.engine, tmp_path / "data", tmp_path / "pool")
    api_ctx.exports = service
    runner = asyncio.create_task(service.run())
    yield service
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def _finished(client: httpx.AsyncClient, headers: dict[str, str], job_id: str) -> dict:  # type: ignore[type-arg]
    async with asyncio.timeout(30):
        while True:
            job = (await client.get(f"/api/v1/exports/{job_id}", headers=headers)).json()
            if job["state"] in ("done", "failed"):
                return job  # type: ignore[no-any-return]
            await asyncio.sleep(0.05)


async def _audit_actions(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict]:  # type: ignore[type-arg]
    answer = await client.get("/api/v1/audit", params={"limit": 500}, headers=admin)
    return [r for r in answer.json()["items"] if r["action"].startswith("recording.export")]


async def test_export_job_download_and_audit(
    client: httpx.AsyncClient, admin: dict[str, str], exports: ExportService
) -> None:
    await seed_two_counties(client, admin)
    answer = await client.post(f"/api/v1/channels/{CHANNEL}/exports", json=RANGE, headers=admin)
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["state"] == "queued"
    assert job["channel_id"] == CHANNEL
    done = await _finished(client, admin, job["id"])
    assert done["state"] == "done", done["error"]
    assert done["progress"] == 1.0

    listed = (await client.get("/api/v1/exports", headers=admin)).json()
    assert [j["id"] for j in listed["items"]] == [job["id"]]

    mp4 = await client.get(done["file_url"], headers=admin)
    assert mp4.status_code == 200
    assert mp4.headers["content-type"] == "video/mp4"
    assert mp4.content[4:8] == b"ftyp"
    assert len(mp4.content) == done["size_bytes"]
    manifest = await client.get(done["manifest_url"], headers=admin)
    assert manifest.status_code == 200
    document = manifest.json()
    assert document["manifest"]["export"]["sha256"] == hashlib.sha256(mp4.content).hexdigest()
    assert document["manifest"]["channel"]["name"] == "镜湖 路口 1"
    assert document["manifest"]["requested_by"] == "admin"

    key = await client.get("/api/v1/exports/public-key", headers=admin)
    assert key.status_code == 200
    public = load_public_key(key.content)
    assert fingerprint(public) == document["signature"]["key_fingerprint"]
    assert key.headers["x-key-fingerprint"] == fingerprint(public)

    records = await _audit_actions(client, admin)
    actions = [(r["action"], r["target"], r["detail"].get("file")) for r in records]
    assert ("recording.export", CHANNEL, None) in actions
    assert ("recording.export_download", CHANNEL, "mp4") in actions
    assert ("recording.export_download", CHANNEL, "manifest") in actions
    created = next(r for r in records if r["action"] == "recording.export")
    assert created["detail"]["job"] == job["id"]
    assert created["detail"]["reason"] == RANGE["reason"]

    # Verification: the job on disk, an uploaded manifest with the MP4's hash, a wrong hash.
    by_job = await client.post("/api/v1/exports/verify", json={"job_id": job["id"]}, headers=admin)
    assert by_job.status_code == 200
    assert by_job.json()["valid"] is True
    assert by_job.json()["file_checked"] is True
    sha = hashlib.sha256(mp4.content).hexdigest()
    uploaded = await client.post(
        "/api/v1/exports/verify",
        json={"manifest": document, "mp4_sha256": sha, "mp4_size_bytes": len(mp4.content)},
        headers=admin,
    )
    assert uploaded.json()["valid"] is True
    wrong = await client.post(
        "/api/v1/exports/verify",
        json={"manifest": document, "mp4_sha256": "0" * 64},
        headers=admin,
    )
    assert wrong.json()["valid"] is False
    assert "SHA-256" in wrong.json()["problems"][0]
    document["manifest"]["reason"] = "something else"
    edited = await client.post("/api/v1/exports/verify", json={"manifest": document}, headers=admin)
    assert edited.json()["valid"] is False
    assert edited.json()["signature_valid"] is False


async def test_roles_and_scope(
    client: httpx.AsyncClient, admin: dict[str, str], login: Login, exports: ExportService
) -> None:
    await seed_two_counties(client, admin)
    engine = exports.engine
    await add_user(engine, "op", Role.OPERATOR)
    await add_user(engine, "viewer", Role.VIEWER)
    await add_user(engine, "auditor", Role.AUDITOR)
    await add_user(engine, "jiujiang", Role.ADMIN, regions=("340207",))
    operator = await login("op", "user-secret-42")
    viewer = await login("viewer", "user-secret-42")
    auditor = await login("auditor", "user-secret-42")
    scoped = await login("jiujiang", "user-secret-42")
    url = f"/api/v1/channels/{CHANNEL}/exports"

    assert (await client.post(url, json=RANGE)).status_code == 401
    for who in (operator, viewer, auditor):
        assert (await client.post(url, json=RANGE, headers=who)).status_code == 403
    # An admin whose scope is another county does not see the point at all.
    assert (await client.post(url, json=RANGE, headers=scoped)).status_code == 404

    too_long = {**RANGE, "end": (T0 + timedelta(hours=25)).isoformat()}
    answer = await client.post(url, json=too_long, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_range"
    empty = {**RANGE, "start": (T0 - timedelta(hours=2)).isoformat(), "end": T0.isoformat()}
    answer = await client.post(url, json=empty, headers=admin)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "no_recording"

    job = (await client.post(url, json=RANGE, headers=admin)).json()
    done = await _finished(client, admin, job["id"])
    assert done["state"] == "done"

    assert (await client.get("/api/v1/exports", headers=viewer)).status_code == 403
    assert (await client.get("/api/v1/exports", headers=operator)).status_code == 403
    seen = (await client.get("/api/v1/exports", headers=auditor)).json()
    assert [j["id"] for j in seen["items"]] == [job["id"]]
    # Auditors read the manifest but never the video; viewers see neither.
    manifest_url, file_url = done["manifest_url"], done["file_url"]
    assert (await client.get(manifest_url, headers=auditor)).status_code == 200
    assert (await client.get(file_url, headers=auditor)).status_code == 403
    assert (await client.get(file_url, headers=viewer)).status_code == 403
    assert (await client.get(manifest_url, headers=viewer)).status_code == 404
    assert (await client.get(f"/api/v1/exports/{job['id']}", headers=viewer)).status_code == 404
    # The scoped admin may see the job (audit.read) but not download footage out of scope.
    assert (await client.get(file_url, headers=scoped)).status_code == 404
    assert (await client.get("/api/v1/exports/not-a-job", headers=admin)).status_code == 404

    downloads = [
        r for r in await _audit_actions(client, admin) if r["action"] == "recording.export_download"
    ]
    assert [(r["actor"], r["detail"]["file"]) for r in downloads] == [("auditor", "manifest")]


async def test_unfinished_job_cannot_be_downloaded(
    client: httpx.AsyncClient, admin: dict[str, str], api_ctx: ApiContext, tmp_path: Path
) -> None:
    await seed_two_counties(client, admin)
    await record_two_runs(api_ctx.engine, tmp_path / "pool")
    # The service is not running: the job stays queued.
    api_ctx.exports = export_service(api_ctx.engine, tmp_path / "data", tmp_path / "pool")
    job = (
        await client.post(f"/api/v1/channels/{CHANNEL}/exports", json=RANGE, headers=admin)
    ).json()
    answer = await client.get(f"/api/v1/exports/{job['id']}/file", headers=admin)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "not_ready"
    assert job["file_url"] is None


async def test_exports_unavailable_without_the_service(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await seed_two_counties(client, admin)
    answer = await client.post(f"/api/v1/channels/{CHANNEL}/exports", json=RANGE, headers=admin)
    assert answer.status_code == 503


async def test_expired_export_keeps_its_manifest(
    client: httpx.AsyncClient, admin: dict[str, str], exports: ExportService
) -> None:
    """After the keeping period the MP4 goes (410), the signed manifest stays."""
    await seed_two_counties(client, admin)
    job = (
        await client.post(f"/api/v1/channels/{CHANNEL}/exports", json=RANGE, headers=admin)
    ).json()
    done = await _finished(client, admin, job["id"])
    assert done["state"] == "done", done["error"]
    mp4 = exports.mp4_path(job["id"])
    assert mp4.is_file()

    exports.keep_days = 0
    assert await exports.expire() == 0  # 0 days: kept until removed by hand
    exports.keep_days = 30
    finished_at = datetime.fromisoformat(done["finished_at"])
    assert await exports.expire(finished_at + timedelta(days=29)) == 0
    assert mp4.is_file()
    assert await exports.expire(finished_at + timedelta(days=31)) == 1
    assert not mp4.is_file()

    expired = (await client.get(f"/api/v1/exports/{job['id']}", headers=admin)).json()
    assert expired["state"] == "expired"
    assert expired["file_url"] is None
    gone = await client.get(f"/api/v1/exports/{job['id']}/file", headers=admin)
    assert gone.status_code == 410
    assert gone.json()["error"]["code"] == "gone"
    manifest = await client.get(expired["manifest_url"], headers=admin)
    assert manifest.status_code == 200
    assert manifest.json()["manifest"]["requested_by"] == "admin"
