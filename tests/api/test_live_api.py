"""Live video through the API with a real signalling server, media server and simulated
camera: the WebSocket's init segment and fragments, snapshots, the play timeline, scope
refusal and the audit trail."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.api.conftest import ADMIN_PASSWORD
from tests.api.loopback_api import (
    api_context,
    http_server,
    seed_admin_and_counties,
    sign_in,
    simulated_channel,
)
from tests.signaling.conftest import eventually, fast_settings, serving, sim_config
from tests.streams.conftest import media_settings, running_media
from vigil.media.live import is_init_segment
from vigil.media.snapshot import Snapshotter
from vigil.media.transcoder import TranscoderPool
from vigil.settings import load_settings
from vigil.signaling.server import SignalingServer
from vigil.sim import Simulator
from vigil.streams import LiveStreams

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def live_platform(
    engine: AsyncEngine,
    tmp_path: Path,
    *,
    sim: dict[str, Any] | None = None,
    transcoders: TranscoderPool | None = None,
) -> AsyncIterator[tuple[str, Simulator, str]]:
    """(base URL, simulator, channel ID) with the channel in the ledger; ``sim`` overrides
    the simulator's settings, ``transcoders`` (running) serves H.265 channels."""
    await seed_admin_and_counties(engine)
    settings = load_settings(sip=fast_settings(unknown_devices="pending"), media=media_settings())
    async with (
        serving(SignalingServer(settings.sip, engine)) as signaling,
        running_media(settings.media) as media,
    ):
        streams = LiveStreams(signaling, media, settings, grace_s=0.2)
        ctx = api_context(
            engine,
            tmp_path,
            signaling=signaling,
            media=media,
            streams=streams,
            snapshotter=Snapshotter(timeout_s=10),
            transcoders=transcoders,
        )
        config = sim_config(
            signaling.port, devices=1, channels=1, region="340202",
            video_width=320, video_height=180, **(sim or {}),
        )  # fmt: skip
        try:
            async with (
                http_server(ctx) as base_url,
                simulated_channel(base_url, config) as (simulator, channel_id),
            ):
                yield base_url, simulator, channel_id
        finally:
            await streams.close()


def _ws(base_url: str, channel_id: str, token: str) -> str:
    return (
        base_url.replace("http://", "ws://") + f"/api/v1/channels/{channel_id}/live?token={token}"
    )


async def _audit(client: httpx.AsyncClient, admin: dict[str, str], action: str) -> list[Any]:
    answer = await client.get(f"/api/v1/audit?action={action}", headers=admin)
    assert answer.status_code == 200, answer.text
    items: list[Any] = answer.json()["items"]
    return items


async def test_websocket_snapshot_timeline_scope_and_audit(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    async with (
        live_platform(engine, tmp_path) as (base_url, _simulator, channel_id),
        httpx.AsyncClient(base_url=base_url, timeout=20) as client,
    ):
        admin = await sign_in(client, "admin", ADMIN_PASSWORD)
        token = admin["Authorization"].removeprefix("Bearer ")
        async with connect(_ws(base_url, channel_id, token), open_timeout=20) as websocket:
            messages = [await websocket.recv(decode=False) for _ in range(6)]
        assert isinstance(messages[0], bytes)
        assert is_init_segment(messages[0])
        assert all(isinstance(m, bytes) and not is_init_segment(m) for m in messages[1:])

        snapshot = await client.get(f"/api/v1/channels/{channel_id}/snapshot.jpg", headers=admin)
        assert snapshot.status_code == 200, snapshot.text
        assert snapshot.headers["content-type"] == "image/jpeg"
        assert snapshot.content[:2] == b"\xff\xd8"

        plays = await client.get(f"/api/v1/channels/{channel_id}/play-sessions", headers=admin)
        assert plays.status_code == 200
        (play,) = plays.json()["items"]
        kinds = [event["kind"] for event in play["timeline"]]
        assert "invite_sent" in kinds
        assert "first_keyframe" in kinds

        # A viewer of another county: the channel does not exist for them.
        other = await sign_in(client, "other-county", "user-secret-42")
        other_token = other["Authorization"].removeprefix("Bearer ")
        async with connect(_ws(base_url, channel_id, other_token)) as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                await websocket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4404
        hidden = await client.get(f"/api/v1/channels/{channel_id}/snapshot.jpg", headers=other)
        assert hidden.status_code == 404
        async with connect(_ws(base_url, channel_id, "not-a-token")) as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                await websocket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401

        (start,) = await _audit(client, admin, "live.start")
        assert start["actor"] == "admin"
        assert start["target"] == channel_id

        async def stopped() -> bool:
            return len(await _audit(client, admin, "live.stop")) == 1

        await eventually(stopped)
        (stop,) = await _audit(client, admin, "live.stop")
        assert stop["detail"]["duration_s"] >= 0
        assert stop["detail"]["messages"] >= 6
        assert len(await _audit(client, admin, "live.snapshot")) == 1
