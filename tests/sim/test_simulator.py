"""The simulator against the real signalling server: shared UDP ports, re-registration
after a 404 and after the platform restarts, TCP reconnection."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import devices
from vigil.signaling.server import SignalingServer

from ..signaling.conftest import eventually, fast_settings, serving, sim_config, simulating

pytestmark = pytest.mark.integration


async def test_devices_share_udp_ports(sqlite_engine: AsyncEngine) -> None:
    async with (
        serving(SignalingServer(fast_settings(), sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=10, devices_per_port=5)) as sim,
    ):
        await sim.wait_registered()
        assert len(sim.ports) == 2
        addresses = {server.device_state(d).address for d in sim.devices}  # type: ignore[union-attr]
        assert len(addresses) == 2


async def test_keepalive_404_makes_the_device_register_again(sqlite_engine: AsyncEngine) -> None:
    async with (
        serving(SignalingServer(fast_settings(), sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=2)) as sim,
    ):
        await sim.wait_registered()
        forgotten = next(iter(sim.devices.values()))
        await eventually(lambda: server.counters.catalogs_synced >= 2)
        async with sqlite_engine.begin() as conn:
            await conn.execute(delete(devices).where(devices.c.id == forgotten.device_id))
        await server.reload_device(forgotten.device_id)  # the platform forgets it
        await eventually(lambda: server.counters.keepalives_rejected >= 1)
        await eventually(lambda: forgotten.registrations >= 2)
        state = server.device_state(forgotten.device_id)
        assert state is not None
        assert state.online


async def test_tcp_devices_reconnect_after_a_platform_restart(sqlite_engine: AsyncEngine) -> None:
    settings = fast_settings(keepalive_interval_s=0.2)
    async with contextlib.AsyncExitStack() as stack:
        first = await stack.enter_async_context(serving(SignalingServer(settings, sqlite_engine)))
        port = first.port
        config = sim_config(port, devices=5, transport="tcp", retry_s=0.2, retry_max_s=0.5)
        async with simulating(config) as sim:
            await sim.wait_registered()
            await stack.aclose()  # the platform goes away: its connections close
            await asyncio.sleep(0.3)
            async with serving(SignalingServer(fast_settings(port=port), sqlite_engine)) as second:
                await eventually(lambda: all(d.registrations >= 2 for d in sim.devices.values()))
                await sim.wait_registered()
                assert second.metrics()["tcp_connections"] == 5
                assert all(second.device_state(d).online for d in sim.devices)  # type: ignore[union-attr]
