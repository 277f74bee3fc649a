"""Devices seen through the API while a real signalling server talks to simulated NVRs:
live state, on-demand queries, the signalling log, and online changes pushed over SSE."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import ADMIN_PASSWORD
from tests.api.loopback_api import api_context, http_server, seed_admin_and_counties, sign_in
from tests.signaling.conftest import eventually, fast_settings, serving, sim_config, simulating
from vigil.signaling.server import SignalingServer

pytestmark = pytest.mark.integration

NVR = "34020200001180000001"


@pytest.fixture
async def platform(
    engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[tuple[str, SignalingServer]]:
    await seed_admin_and_counties(engine)
    signaling = SignalingServer(fast_settings(unknown_devices="pending"), engine)
    ctx = api_context(engine, tmp_path, signaling=signaling)
    async with serving(signaling), http_server(ctx) as base_url:
        yield base_url, signaling


async def test_live_state_queries_and_log(platform: tuple[str, SignalingServer]) -> None:
    base_url, signaling = platform
    config = sim_config(signaling.port, devices=1, channels=2, region="340202")
    async with simulating(config) as simulator, httpx.AsyncClient(base_url=base_url) as client:
        await simulator.wait_registered(timeout_s=10)
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)

        async def channels_listed() -> bool:
            page = await client.get(f"/api/v1/channels?device={NVR}", headers=admin)
            return bool(page.json()["total"] == 2)

        await eventually(channels_listed)
        state = (await client.get(f"/api/v1/devices/{NVR}/state", headers=admin)).json()
        assert state["online"] is True
        assert state["transport"] == "udp"
        info = await client.post(f"/api/v1/devices/{NVR}/info", headers=admin)
        assert info.status_code == 200, info.text
        assert info.json()["manufacturer"] == "Vigil"
        status = await client.post(f"/api/v1/devices/{NVR}/status", headers=admin)
        assert status.json()["online"] == "ONLINE"
        refreshed = await client.post(f"/api/v1/devices/{NVR}/catalog", headers=admin)
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["complete"] is True
        log = (await client.get(f"/api/v1/devices/{NVR}/signalling-log", headers=admin)).json()
        first_lines = [item["first_line"] for item in log["items"]]
        assert any(line.startswith("REGISTER ") for line in first_lines)
        assert any("DeviceInfo" in item["text"] for item in log["items"])
        # A viewer of another county cannot see this device, live or not.
        other = await sign_in(client, "other-county", "user-secret-42")
        hidden = await client.get(f"/api/v1/devices/{NVR}/state", headers=other)
        assert hidden.status_code == 404


async def test_offline_is_pushed_over_server_sent_events(
    platform: tuple[str, SignalingServer],
) -> None:
    base_url, signaling = platform
    config = sim_config(signaling.port, devices=1, channels=1, region="340202")
    async with simulating(config) as simulator, httpx.AsyncClient(base_url=base_url) as client:
        await simulator.wait_registered(timeout_s=10)
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        token = admin["Authorization"].removeprefix("Bearer ")
        device_id = next(iter(simulator.devices))
        events: list[dict[str, object]] = []
        async with client.stream("GET", f"/api/v1/events?token={token}", timeout=15) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            simulator.device(device_id).stop()  # the device falls silent
            kind = ""
            async with asyncio.timeout(10):
                async for line in stream.aiter_lines():
                    if line.startswith("event: "):
                        kind = line.removeprefix("event: ")
                    elif line.startswith("data: ") and kind == "device":
                        events.append(json.loads(line.removeprefix("data: ")))
                        if events[-1]["online"] is False:
                            break
        assert events[-1]["device_id"] == device_id
        assert events[-1]["online"] is False


async def test_events_are_filtered_by_scope(platform: tuple[str, SignalingServer]) -> None:
    base_url, signaling = platform
    config = sim_config(signaling.port, devices=1, channels=1, region="340202")
    async with httpx.AsyncClient(base_url=base_url) as client:
        other = await sign_in(client, "other-county", "user-secret-42")
        token = other["Authorization"].removeprefix("Bearer ")
        seen: list[str] = []
        async with (
            client.stream("GET", f"/api/v1/events?token={token}", timeout=15) as stream,
            simulating(config) as simulator,
        ):
            await simulator.wait_registered(timeout_s=10)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2):
                    async for line in stream.aiter_lines():
                        if line.startswith("data: "):
                            seen.append(line)
        assert seen == []
