"""A whole live path on loopback: signalling server, media server, simulator, LiveStreams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.media.server import MediaServer
from vigil.settings import MediaSettings, Settings, load_settings
from vigil.signaling.server import SignalingServer
from vigil.sim import Simulator
from vigil.streams import LiveStreams

from ..signaling.conftest import fast_settings, serving, sim_config, simulating


def media_settings(**overrides: Any) -> MediaSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "rtp_port": 0,
        "port_range_min": 47300,
        "port_range_max": 47399,
        "no_data_timeout_s": 2.0,
        "reorder_max_delay_s": 0.1,
        **overrides,
    }
    return MediaSettings.model_validate(values)


@dataclass
class LivePath:
    signaling: SignalingServer
    media: MediaServer
    streams: LiveStreams
    sim: Simulator
    settings: Settings

    @property
    def channel(self) -> tuple[str, str]:
        """(channel ID, device ID) of the first simulated channel."""
        device = next(iter(self.sim.devices.values()))
        return device.plan.channels[0].channel_id, device.device_id


@contextlib.asynccontextmanager
async def running_media(settings: MediaSettings) -> AsyncIterator[MediaServer]:
    media = MediaServer(settings)
    task = asyncio.create_task(media.run())
    await asyncio.wait_for(media.wait_started(), 5)
    try:
        yield media
    finally:
        media.stop()
        await asyncio.wait_for(task, 5)


@contextlib.asynccontextmanager
async def live_path(
    engine: AsyncEngine,
    *,
    grace_s: float = 0.3,
    media: dict[str, Any] | None = None,
    sim: dict[str, Any] | None = None,
) -> AsyncIterator[LivePath]:
    settings = load_settings(sip=fast_settings(), media=media_settings(**(media or {})))
    async with (
        serving(SignalingServer(settings.sip, engine)) as signaling,
        running_media(settings.media) as media_server,
    ):
        config = sim_config(signaling.port, video_width=320, video_height=180, **(sim or {}))
        async with simulating(config) as simulator:
            await simulator.wait_registered()
            streams = LiveStreams(signaling, media_server, settings, grace_s=grace_s)
            try:
                yield LivePath(signaling, media_server, streams, simulator, settings)
            finally:
                await streams.close()
