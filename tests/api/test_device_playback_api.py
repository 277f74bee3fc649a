"""Device recordings through the API with a real signalling server, media server and
simulated camera: the RecordInfo list (scope, permission, audit) and the playback WebSocket
(fMP4 until the end of the recording, control messages, audit)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import ADMIN_PASSWORD, add_user
from tests.api.loopback_api import (
    api_context,
    http_server,
    seed_admin_and_counties,
    sign_in,
    simulated_channel,
)
from tests.signaling.conftest import (
    eventually,
    fast_settings,
    serving,
    sim_config,
    sqlite_engine,
)
from tests.streams.conftest import media_settings, running_media
from vigil.access.roles import Role
from vigil.media.live import is_init_segment
from vigil.playbacks import DevicePlaybacks
from vigil.settings import load_settings
from vigil.signaling.server import SignalingServer

__all__ = ["sqlite_engine"]

pytestmark = pytest.mark.integration

HOUR_S = 3600


@contextlib.asynccontextmanager
async def platform(engine: AsyncEngine, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """(base URL, channel ID) of a platform with one simulated IPC in the ledger."""
    await seed_admin_and_counties(engine)
    await add_user(engine, "approver", Role.APPROVER)
    settings = load_settings(sip=fast_settings(unknown_devices="pending"), media=media_settings())
    async with (
        serving(SignalingServer(settings.sip, engine)) as signaling,
        running_media(settings.media) as media,
    ):
        playbacks = DevicePlaybacks(signaling, media, settings)
        ctx = api_context(engine, tmp_path, signaling=signaling, media=media, playbacks=playbacks)
        config = sim_config(
            signaling.port, devices=1, channels=1, region="340202", video_width=320,
            video_height=180, record_items_per_message=3,
        )  # fmt: skip
        try:
            async with (
                http_server(ctx) as base_url,
                simulated_channel(base_url, config) as (_simulator, channel_id),
            ):
                yield base_url, channel_id
        finally:
            await playbacks.close()


async def _audit(client: httpx.AsyncClient, admin: dict[str, str], action: str) -> list[Any]:
    answer = await client.get(f"/api/v1/audit?action={action}", headers=admin)
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


async def _receive_all(websocket: ClientConnection, into: list[bytes | str]) -> None:
    while True:
        into.append(await websocket.recv(decode=False))


def _recorded_start() -> int:
    return int(time.time()) // HOUR_S * HOUR_S - 2 * HOUR_S  # no simulated gap there


def _ws(base_url: str, channel_id: str, token: str, start: int, end: int) -> str:
    return base_url.replace("http://", "ws://") + (
        f"/api/v1/channels/{channel_id}/device-playback?start={start}&end={end}&token={token}"
    )


async def test_device_records_scope_permission_and_audit(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with (
        platform(sqlite_engine, tmp_path) as (base_url, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        end = _recorded_start() + 2 * HOUR_S
        window = {"start": str(end - 12 * HOUR_S), "end": str(end)}
        url = f"/api/v1/channels/{channel_id}/device-records"
        answer = await client.get(url, params=window, headers=admin)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["complete"]
        assert body["sum_num"] == len(body["items"]) == 11  # 12 hours minus the 4-8 h gap
        starts = [item["start_s"] for item in body["items"]]
        assert starts == sorted(starts)
        assert all(item["end_s"] - item["start_s"] == HOUR_S for item in body["items"])

        other = await sign_in(client, "other-county", "user-secret-42")
        assert (await client.get(url, params=window, headers=other)).status_code == 404
        approver = await sign_in(client, "approver", "user-secret-42")
        assert (await client.get(url, params=window, headers=approver)).status_code == 403
        assert (await client.get(url, params=window)).status_code == 401
        missing = "/api/v1/channels/34020200001310999999/device-records"
        assert (await client.get(missing, params=window, headers=admin)).status_code == 404
        backwards = {"start": window["end"], "end": window["start"]}
        assert (await client.get(url, params=backwards, headers=admin)).status_code == 422

        (audited,) = await _audit(client, admin, "device_records.query")
        assert audited["target"] == channel_id
        assert audited["detail"]["items"] == 11


async def test_playback_websocket_until_end_of_recording(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with (
        platform(sqlite_engine, tmp_path) as (base_url, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        token = admin["Authorization"].removeprefix("Bearer ")
        start = _recorded_start()
        messages: list[bytes | str] = []
        async with connect(_ws(base_url, channel_id, token, start, start + 3)) as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                await _receive_all(websocket, messages)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1000, closed.value.rcvd.reason
        assert closed.value.rcvd.reason == "end of the recording"
        assert isinstance(messages[0], bytes)
        assert is_init_segment(messages[0])
        assert len(messages) > 30  # 3 s at 25 fps, one fragment per frame

        (started,) = await _audit(client, admin, "playback.start")
        assert (started["target"], started["detail"]["start"]) == (channel_id, start)

        async def stopped() -> list[Any]:
            return await _audit(client, admin, "playback.stop")

        await eventually(stopped)
        (stop,) = await stopped()
        assert stop["detail"]["state"] == "finished"

        other = await sign_in(client, "other-county", "user-secret-42")
        other_token = other["Authorization"].removeprefix("Bearer ")
        async with connect(_ws(base_url, channel_id, other_token, start, start + 3)) as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                await websocket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4404


async def test_playback_websocket_control_messages(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with (
        platform(sqlite_engine, tmp_path) as (base_url, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        token = admin["Authorization"].removeprefix("Bearer ")
        start = _recorded_start()
        async with connect(_ws(base_url, channel_id, token, start, start + 600)) as websocket:
            assert is_init_segment(await websocket.recv(decode=False))
            answers = []
            for command in ({"action": "pause"}, {"action": "scale", "value": 20}):
                await websocket.send(json.dumps(command))
                while isinstance(reply := await websocket.recv(), bytes):
                    pass
                answers.append(json.loads(reply))
        assert answers[0] == {"ok": True, "state": "paused", "scale": 1.0}
        assert answers[1]["ok"] is False
        assert "scale" in answers[1]["error"]
