"""Downloads of device recordings through the API with a real signalling server, media
server, simulated camera and the download service: a job from POST to the MP4 (progress,
Range, audit, removal), permissions, scope and validation."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import ADMIN_PASSWORD, add_user
from tests.api.loopback_api import (
    api_context,
    http_server,
    seed_admin_and_counties,
    sign_in,
    simulated_channel,
)
from tests.signaling.conftest import eventually, fast_settings, serving, sim_config, sqlite_engine
from tests.streams.conftest import media_settings, running_media
from vigil.access.roles import Role
from vigil.device_downloads import DeviceDownloads
from vigil.playbacks import DevicePlaybacks
from vigil.settings import load_settings
from vigil.signaling.server import SignalingServer

__all__ = ["sqlite_engine"]

pytestmark = pytest.mark.integration

HOUR_S = 3600
USER_PASSWORD = "user-secret-42"


@contextlib.asynccontextmanager
async def platform(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(base URL, channel ID) of a platform with one simulated IPC and downloads running."""
    await seed_admin_and_counties(engine)
    await add_user(engine, "approver", Role.APPROVER)
    await add_user(engine, "viewer", Role.VIEWER, regions=("340202",))
    settings = load_settings(sip=fast_settings(unknown_devices="pending"), media=media_settings())
    async with (
        serving(SignalingServer(settings.sip, engine)) as signaling,
        running_media(settings.media) as media,
    ):
        playbacks = DevicePlaybacks(signaling, media, settings)
        downloads = DeviceDownloads(
            engine, playbacks, downloads_dir=tmp_path / "downloads", poll_interval_s=0.2,
            progress_interval_s=0.2,
        )  # fmt: skip
        task = asyncio.create_task(downloads.run())
        ctx = api_context(
            engine, tmp_path, signaling=signaling, media=media, playbacks=playbacks,
            device_downloads=downloads,
        )  # fmt: skip
        config = sim_config(
            signaling.port, devices=1, channels=1, region="340202", video_width=320,
            video_height=180,
        )  # fmt: skip
        try:
            async with (
                http_server(ctx) as base_url,
                simulated_channel(base_url, config) as (_simulator, channel_id),
            ):
                yield base_url, channel_id
        finally:
            await downloads.stop()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await playbacks.close()


def _recorded_start() -> int:
    return int(time.time()) // HOUR_S * HOUR_S - 2 * HOUR_S  # no simulated gap there


async def _audit(client: httpx.AsyncClient, admin: dict[str, str], action: str) -> list[Any]:
    answer = await client.get(f"/api/v1/audit?action={action}", headers=admin)
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


async def _until_ended(
    client: httpx.AsyncClient, headers: dict[str, str], job_id: str
) -> tuple[dict[str, Any], list[float]]:
    """The job once it has ended, and the progress values seen while it ran."""
    seen: list[float] = []
    last: dict[str, Any] = {}

    async def ended() -> bool:
        answer = await client.get(f"/api/v1/device-downloads/{job_id}", headers=headers)
        assert answer.status_code == 200, answer.text
        last.update(answer.json())
        if last["state"] == "running":
            seen.append(last["progress"])
        return last["state"] in ("done", "failed")

    await eventually(ended, timeout_s=20, interval_s=0.1)
    return last, seen


async def test_a_download_from_request_to_file_and_removal(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with (
        platform(sqlite_engine, tmp_path) as (base_url, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        start = _recorded_start()
        url = f"/api/v1/channels/{channel_id}/device-downloads"
        created = await client.post(url, json={"start": start, "end": start + 6}, headers=admin)
        assert created.status_code == 202, created.text
        job = created.json()
        assert (job["state"], job["speed"], job["start_s"], job["end_s"]) == (
            "queued", 4, start, start + 6,
        )  # fmt: skip
        assert job["file_url"] is None
        done, seen = await _until_ended(client, admin, job["id"])
        assert done["state"] == "done", done["error"]
        assert done["progress"] == 1.0
        assert any(0 < p < 1 for p in seen), seen
        assert 140 <= done["frames"] <= 160  # 6 s at 25 fps

        whole = await client.get(done["file_url"], headers=admin)
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["content-disposition"].startswith("attachment;")
        assert len(whole.content) == done["size_bytes"]
        assert hashlib.sha256(whole.content).hexdigest() == done["sha256"]
        assert whole.content[4:8] == b"ftyp"
        part = await client.get(done["file_url"], headers={**admin, "Range": "bytes=0-99"})
        assert part.status_code == 206
        assert part.content == whole.content[:100]

        listed = await client.get("/api/v1/device-downloads", headers=admin)
        assert [item["id"] for item in listed.json()["items"]] == [job["id"]]
        (audited,) = await _audit(client, admin, "device_download.create")
        assert (audited["target"], audited["detail"]["job"]) == (channel_id, job["id"])
        fetched = await _audit(client, admin, "device_download.fetch")
        assert len(fetched) == 2

        removed = await client.delete(f"/api/v1/device-downloads/{job['id']}", headers=admin)
        assert removed.status_code == 204
        assert not list((tmp_path / "downloads").iterdir())
        gone = await client.get(f"/api/v1/device-downloads/{job['id']}", headers=admin)
        assert gone.status_code == 404
        assert len(await _audit(client, admin, "device_download.delete")) == 1


async def test_permissions_scope_and_validation(sqlite_engine: AsyncEngine, tmp_path: Path) -> None:
    async with (
        platform(sqlite_engine, tmp_path) as (base_url, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        viewer = await sign_in(client, "viewer", USER_PASSWORD)
        other = await sign_in(client, "other-county", USER_PASSWORD)
        approver = await sign_in(client, "approver", USER_PASSWORD)
        start = _recorded_start()
        url = f"/api/v1/channels/{channel_id}/device-downloads"
        window = {"start": start, "end": start + 2, "speed": 8}
        assert (await client.post(url, json=window)).status_code == 401
        assert (await client.post(url, json=window, headers=approver)).status_code == 403
        assert (await client.post(url, json=window, headers=other)).status_code == 404
        missing = "/api/v1/channels/34020200001310999999/device-downloads"
        assert (await client.post(missing, json=window, headers=admin)).status_code == 404

        for body, field in (
            ({"start": start, "end": start + 25 * HOUR_S}, "end"),
            ({"start": start, "end": start}, "end"),
            ({"start": "yesterday", "end": start}, "start"),
            ({"start": start, "end": start + 2, "speed": 9}, "speed"),
            ({"start": start, "end": start + 2, "speed": 0}, "speed"),
        ):
            refused = await client.post(url, json=body, headers=admin)
            assert refused.status_code == 422, (body, refused.text)
            assert [d["field"] for d in refused.json()["error"]["details"]] == [field]

        mine = (await client.post(url, json=window, headers=viewer)).json()
        # Long enough to be still running while it is asked for and removed.
        long = {"start": start, "end": start + 600, "speed": 1}
        admins = (await client.post(url, json=long, headers=admin)).json()
        viewer_list = (await client.get("/api/v1/device-downloads", headers=viewer)).json()
        assert [item["id"] for item in viewer_list["items"]] == [mine["id"]]
        admin_list = (await client.get("/api/v1/device-downloads", headers=admin)).json()
        assert {item["id"] for item in admin_list["items"]} == {mine["id"], admins["id"]}
        other_list = (await client.get("/api/v1/device-downloads", headers=other)).json()
        assert other_list["items"] == []
        job_url = f"/api/v1/device-downloads/{admins['id']}"
        assert (await client.get(job_url, headers=viewer)).status_code == 404
        assert (await client.get(job_url + "/file", headers=viewer)).status_code == 404
        assert (await client.delete(job_url, headers=viewer)).status_code == 404
        bad_id = "/api/v1/device-downloads/not-a-job"
        assert (await client.get(bad_id, headers=admin)).status_code == 404

        done, _seen = await _until_ended(client, viewer, mine["id"])
        assert done["state"] == "done", done["error"]
        fetched = await client.get(done["file_url"], headers=viewer)
        assert fetched.status_code == 200
        assert (await client.get(done["file_url"], headers=other)).status_code == 404

        async def running() -> bool:
            answer = await client.get(job_url, headers=admin)
            return bool(answer.json()["state"] == "running")

        await eventually(running)
        assert (await client.get(job_url + "/file", headers=admin)).status_code == 409
        assert (await client.delete(job_url, headers=admin)).status_code == 409
        (audited,) = await _audit(client, admin, "device_download.fetch")
        assert audited["actor"] == "viewer"
