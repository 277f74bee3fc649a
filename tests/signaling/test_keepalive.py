"""Keepalive (GB/T 28181-2016 §9.6): 404 for unknown devices, offline after the timeout,
the write-behind keeping database writes far below keepalives, TCP keepalives."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels, devices
from vigil.signaling.events import DeviceOffline
from vigil.signaling.server import SignalingServer

from .conftest import eventually, fast_settings, serving, sim_config, simulating
from .sip_client import SipClient

pytestmark = pytest.mark.integration

DEVICE = "34020000001320000001"


async def test_keepalive_from_unknown_device_is_404(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        client.keepalive(DEVICE)
        response = await client.response("MESSAGE")
        assert response.status_code == 404
        assert server.counters.keepalives_rejected == 1
        # The general path (a keepalive the fast path does not take) answers alike.
        client.keepalive(DEVICE.replace("0001", "0002"), sn=2, call_id="x y")
        assert (await client.response("MESSAGE")).status_code == 404


async def test_keepalive_from_registered_device_is_200(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    settings = fast_settings(keepalive_interval_s=5.0, query_device_info_on_register=False)
    async with serving(SignalingServer(settings, sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        assert (await client.register(DEVICE, "12345678"))[0].status_code == 200
        client.keepalive(DEVICE, sn=7)
        assert (await client.response("MESSAGE")).status_code == 200
        assert server.counters.keepalives == 1
        state = server.device_state(DEVICE)
        assert state is not None
        assert state.last_keepalive_at is not None


async def test_offline_after_missed_keepalives(engine: AsyncEngine) -> None:
    settings = fast_settings(keepalive_interval_s=0.2, keepalive_timeout_count=3)
    async with serving(SignalingServer(settings, engine)) as server:
        events = server.subscribe_events()
        async with simulating(sim_config(server.port, devices=3, channels=2)) as sim:
            await sim.wait_registered()
            silent = next(iter(sim.devices.values()))
            await eventually(lambda: silent.keepalives_answered >= 2)

            async def channels_online() -> bool:
                async with engine.connect() as conn:
                    rows = await conn.execute(
                        select(channels.c.online).where(channels.c.device_id == silent.device_id)
                    )
                    return [bool(r.online) for r in rows] == [True, True]

            await eventually(channels_online)
            silent.stop()  # stops answering and sending keepalives
            stopped_at = asyncio.get_running_loop().time()
            offline = None
            async with asyncio.timeout(5):
                async for event in events:
                    if isinstance(event, DeviceOffline) and event.device_id == silent.device_id:
                        offline = event
                        break
            elapsed = asyncio.get_running_loop().time() - stopped_at
            assert offline is not None
            assert offline.reason == "keepalive timeout"
            assert 0.35 <= elapsed <= 1.5, elapsed  # 3 × 0.2 s after the last keepalive
            others = [d for d in sim.devices.values() if d is not silent]
            assert all(server.device_state(d.device_id).online for d in others)  # type: ignore[union-attr]
            await server.flush()
            async with engine.connect() as conn:
                online = await conn.scalar(
                    select(devices.c.online).where(devices.c.id == silent.device_id)
                )
                rows = await conn.execute(
                    select(channels.c.online).where(channels.c.device_id == silent.device_id)
                )
                assert not online
                assert [bool(r.online) for r in rows] == [False, False]


async def test_write_behind_batches_keepalives(sqlite_engine: AsyncEngine) -> None:
    settings = fast_settings(
        keepalive_interval_s=0.05,
        flush_interval_s=0.25,
        keepalive_persist_s=60.0,
        query_device_info_on_register=False,
        catalog_subscribe=False,
    )
    async with (
        serving(SignalingServer(settings, sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=20, keepalive_s=0.05)) as sim,
    ):
        await sim.wait_registered()
        await eventually(lambda: server.counters.catalogs_synced >= 20)
        await server.flush()
        before = server.presence_stats.statements
        keepalives_before = server.counters.keepalives
        await asyncio.sleep(2.0)
        await server.flush()
        keepalives = server.counters.keepalives - keepalives_before
        statements = server.presence_stats.statements - before
    assert keepalives >= 400
    assert statements <= 10, (statements, keepalives)  # vs ~800 keepalives: no write each


async def test_keepalive_over_tcp(sqlite_engine: AsyncEngine) -> None:
    async with serving(SignalingServer(fast_settings(), sqlite_engine)) as server:
        config = sim_config(server.port, devices=4, channels=2, transport="tcp")
        async with simulating(config) as sim:
            await sim.wait_registered()
            await eventually(lambda: all(d.keepalives_answered >= 3 for d in sim.devices.values()))
            state = server.device_state(next(iter(sim.devices)))
            assert state is not None
            assert state.transport == "tcp"
            assert server.metrics()["tcp_connections"] == 4
            await eventually(lambda: server.counters.catalogs_synced >= 4)
