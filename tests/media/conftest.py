"""A running MediaServer on loopback for the driver tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from vigil.media.server import MediaServer
from vigil.settings import MediaSettings


def media_settings(**overrides: object) -> MediaSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "rtp_port": 0,
        "port_range_min": 47100,
        "port_range_max": 47199,
        "no_data_timeout_s": 5.0,
        "reorder_max_delay_s": 0.1,
    }
    values.update(overrides)
    return MediaSettings.model_validate(values)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {}


@pytest.fixture
async def media(settings_overrides: dict[str, object]) -> AsyncIterator[MediaServer]:
    server = MediaServer(media_settings(**settings_overrides))
    task = asyncio.create_task(server.run())
    await asyncio.wait_for(server.wait_started(), 5)
    try:
        yield server
    finally:
        server.stop()
        await asyncio.wait_for(task, 5)
