"""Platform restart (WVP #814): devices left online are presumed online, none flaps offline
before one full keepalive timeout, and they are heard from again within an interval."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import devices
from vigil.settings import SipSettings
from vigil.signaling.events import DeviceOffline
from vigil.signaling.server import SignalingServer

from .conftest import eventually, fast_settings, serving, sim_config, simulating

pytestmark = pytest.mark.integration


async def _online_in_db(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.scalar(
            select(func.count()).select_from(devices).where(devices.c.online.is_(True))
        )
    return int(count or 0)


async def _watch_db(engine: AsyncEngine, expected: int, lowest: list[int]) -> None:
    while True:
        lowest[0] = min(lowest[0], await _online_in_db(engine))
        await asyncio.sleep(0.05)


def _settings(port: int, interval_s: float) -> SipSettings:
    return fast_settings(
        port=port,
        keepalive_interval_s=interval_s,
        keepalive_timeout_count=3,
        flush_interval_s=0.2,
        query_device_info_on_register=False,
        catalog_subscribe=False,
        catalog_queries_in_flight=8,
    )


async def _online_count(engine: AsyncEngine, count: int) -> bool:
    return await _online_in_db(engine) == count


@pytest.mark.parametrize("downtime_s", [0.5, 4.0])
async def test_restart_keeps_devices_online(engine: AsyncEngine, downtime_s: float) -> None:
    count = 1000 if downtime_s < 1 else 100
    interval = 1.0
    lowest = [count]
    server = SignalingServer(_settings(0, interval), engine)
    server_task = asyncio.ensure_future(server.run())
    await asyncio.wait_for(server.wait_ready(), 15)
    port = server.port
    config = sim_config(port, devices=count, keepalive_s=interval, devices_per_port=50,
                        retry_s=0.3, retry_max_s=1.0)  # fmt: skip
    async with simulating(config) as sim:
        await sim.wait_registered(timeout_s=60)
        await eventually(lambda: _online_count(engine, count), timeout_s=30)
        watcher = asyncio.ensure_future(_watch_db(engine, count, lowest))
        try:
            server_task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await server_task
            await asyncio.sleep(downtime_s)
            restarted = SignalingServer(_settings(port, interval), engine)
            events = restarted.subscribe_events()
            started = time.time()
            async with serving(restarted):
                snapshots = restarted.devices_snapshot()
                assert len(snapshots) == count
                assert all(s.online for s in snapshots)  # loaded online: presumed so
                assert sum(s.presumed for s in snapshots) >= count // 2  # few heard from yet

                def heard_from_all() -> bool:
                    snapshots = restarted.devices_snapshot()
                    return len(snapshots) == count and all(
                        s.online
                        and s.last_keepalive_at is not None
                        and s.last_keepalive_at.timestamp() >= started
                        for s in snapshots
                    )

                # Heard again within an interval (plus registration back-off when the
                # platform was away longer than the timeout and they re-registered).
                grace = 3.0 if downtime_s > 3 * interval else 0.8
                await eventually(heard_from_all, timeout_s=interval + grace)
                await asyncio.sleep(3 * interval + 0.5)  # past the grace deadline
                assert all(s.online for s in restarted.devices_snapshot())
                offline = []
                while (event := events.get_nowait()) is not None:
                    if isinstance(event, DeviceOffline):
                        offline.append(event)
                assert offline == []
                assert sim.registered_count == count
        finally:
            # Awaited, not only cancelled: a query cancelled on PostgreSQL finishes its
            # cancellation on the connection; left pending, it outlived the engine and the
            # closing event loop waited for it forever.
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    assert lowest[0] == count  # the database never showed a device offline
