"""Catalog (GB/T 28181-2016 §9.5.1, Appendix N; §9.11 subscriptions) end to end with the
simulator: multi-message GB2312 catalogs into the ledger, NOTIFY ADD/DEL/ON/OFF, DeviceInfo
and DeviceStatus round trips, removal on refresh, partial catalogs after a retry."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import channels, devices
from vigil.protocols.gb28181.manscdp import (
    CatalogItem,
    CatalogQuery,
    CatalogResponse,
    parse_manscdp,
)
from vigil.protocols.sip.builders import create_response
from vigil.protocols.sip.message import SipRequest
from vigil.signaling.events import CatalogUpdated, ChannelStatus
from vigil.signaling.server import SignalingServer
from vigil.sim.device_plan import ChannelPlan

from .conftest import eventually, fast_settings, serving, sim_config, simulating
from .sip_client import SipClient

pytestmark = pytest.mark.integration


async def _channels(engine: AsyncEngine, device_id: str) -> dict[str, tuple[str, bool]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(channels.c.id, channels.c.name, channels.c.online)
            .where(channels.c.device_id == device_id)
            .order_by(channels.c.id)
        )
        return {row.id: (row.name, bool(row.online)) for row in rows}


async def test_multi_message_gb2312_catalog_into_the_ledger(engine: AsyncEngine) -> None:
    async with serving(SignalingServer(fast_settings(), engine)) as server:
        events = server.subscribe_events()
        config = sim_config(server.port, devices=2, channels=7, catalog_items_min=1,
                            catalog_items_max=2, charset="GB2312")  # fmt: skip
        async with simulating(config) as sim:
            await sim.wait_registered()
            await eventually(lambda: server.counters.catalogs_synced >= 2)
            names: list[str] = []
            for device in sim.devices.values():
                stored = await _channels(engine, device.device_id)
                expected = {c.channel_id: (c.name, True) for c in device.plan.channels}
                assert stored == expected  # every part arrived, names intact
                names.extend(name for name, _ in stored.values())
            assert any("萳" in name for name in names)  # outside GB2312, sent as GB18030
        updates = []
        while (event := events.get_nowait()) is not None:
            if isinstance(event, CatalogUpdated):
                updates.append(event)
        assert sorted(len(u.added) for u in updates) == [7, 7]
        assert all(u.complete for u in updates)


async def test_notify_add_del_on_off(engine: AsyncEngine) -> None:
    async with (
        serving(SignalingServer(fast_settings(), engine)) as server,
        simulating(sim_config(server.port, devices=1, channels=3)) as sim,
    ):
        await sim.wait_registered()
        device = next(iter(sim.devices.values()))
        await eventually(lambda: server.subscriptions.is_active(device.device_id))
        assert device.subscription is not None
        first, second, third = device.plan.channels
        events = server.subscribe_events()

        assert await device.notify_catalog("OFF", [second]) == 200
        await eventually(lambda: events.get_nowait() is not None)
        await server.flush()
        assert (await _channels(engine, device.device_id))[second.channel_id][1] is False

        added = ChannelPlan(second.channel_id[:-6] + "000777", "新增通道 萳", True)
        assert await device.notify_catalog("ADD", [added]) == 200

        async def has_added() -> bool:
            return added.channel_id in await _channels(engine, device.device_id)

        await eventually(has_added)
        assert (await _channels(engine, device.device_id))[added.channel_id] == (
            "新增通道 萳",
            True,
        )
        assert await device.notify_catalog("DEL", [third]) == 200

        async def third_offline() -> bool:
            return (await _channels(engine, device.device_id))[third.channel_id][1] is False

        await eventually(third_offline)
        assert await device.notify_catalog("ON", [second]) == 200
        await eventually(lambda: events.get_nowait() is not None)
        await server.flush()
        stored = await _channels(engine, device.device_id)
        assert stored[second.channel_id][1] is True
        assert stored[first.channel_id][1] is True
        assert third.channel_id in stored  # marked offline, not deleted


async def test_status_events_are_published(sqlite_engine: AsyncEngine) -> None:
    async with (
        serving(SignalingServer(fast_settings(), sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=1, channels=2)) as sim,
    ):
        await sim.wait_registered()
        await eventually(lambda: server.counters.catalogs_synced >= 1)
        device = next(iter(sim.devices.values()))
        events = server.subscribe_events()
        await device.notify_catalog("VLOST", [device.plan.channels[0]])
        event = await events.get()
        assert isinstance(event, ChannelStatus)
        assert (event.online, event.reason) == (False, "VLOST")


async def test_device_info_and_status_round_trip(engine: AsyncEngine) -> None:
    settings = fast_settings(query_device_info_on_register=False)
    async with (
        serving(SignalingServer(settings, engine)) as server,
        simulating(sim_config(server.port, devices=1, channels=4)) as sim,
    ):
        await sim.wait_registered()
        device_id = next(iter(sim.devices))
        info = await server.query_device_info(device_id)
        assert (info.manufacturer, info.model, info.channel) == ("Vigil", "SIM-NVR", 4)
        assert info.device_name
        assert info.device_name.startswith("模拟NVR")
        status = await server.query_device_status(device_id)
        assert status.is_online
        assert status.encode == "ON"
        await server.flush()
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(devices.c.model, devices.c.firmware).where(devices.c.id == device_id)
                )
            ).one()
        assert row.model == "SIM-NVR"
        assert row.firmware.startswith("V1.0.0")


async def test_refresh_reports_channels_gone_from_the_catalog(sqlite_engine: AsyncEngine) -> None:
    async with (
        serving(SignalingServer(fast_settings(), sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=1, channels=4)) as sim,
    ):
        await sim.wait_registered()
        await eventually(lambda: server.counters.catalogs_synced >= 1)
        device = next(iter(sim.devices.values()))
        gone = device.plan.channels.pop()  # the NVR lost a camera without notifying
        report = await server.refresh_catalog(device.device_id)
        assert report.complete
        assert report.removed == (gone.channel_id,)
        assert report.unchanged == 3
        stored = await _channels(sqlite_engine, device.device_id)
        assert stored[gone.channel_id][1] is False


async def _answer(client: SipClient, request: SipRequest) -> None:
    client.send(create_response(request, 200, to_tag="55").serialize())


async def test_incomplete_catalog_is_retried_then_reported_partial(
    sqlite_engine: AsyncEngine, client: SipClient
) -> None:
    settings = fast_settings(
        catalog_first_part_timeout_s=1.0,
        catalog_idle_timeout_s=0.3,
        keepalive_interval_s=10.0,
        query_device_info_on_register=False,
        catalog_subscribe=False,
    )
    nvr = "34020000001180000001"
    async with serving(SignalingServer(settings, sqlite_engine)) as server:
        client.platform = ("127.0.0.1", server.port)
        events = server.subscribe_events()
        assert (await client.register(nvr, "12345678"))[0].status_code == 200
        items = tuple(
            CatalogItem(device_id=f"3402000000131000000{n}", name=f"通道 {n}", status="ON")
            for n in (1, 2)
        )
        queries = 0
        while queries < 2:
            message = await client.receive()
            if not isinstance(message, SipRequest):
                continue
            await _answer(client, message)
            query = parse_manscdp(message.body)
            if not isinstance(query, CatalogQuery):
                continue
            queries += 1
            part = CatalogResponse(query.sn, nvr, 3, items).serialize()  # 2 of 3 items only
            client.send(client.request("MESSAGE", nvr, call_id=f"p{queries}", cseq=30 + queries,
                                       body=part).serialize())  # fmt: skip
        async with asyncio.timeout(5):
            async for event in events:
                if isinstance(event, CatalogUpdated):
                    break
        assert not event.complete
        assert event.added == tuple(item.device_id for item in items)
        assert server.counters.catalogs_partial == 1


async def test_subscription_is_refreshed_in_its_dialog(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vigil.signaling.catalog_subscription.REFRESH_FRACTION", 0.01)
    settings = fast_settings(catalog_subscribe_expires_s=30)  # refreshed after 0.3 s
    async with (
        serving(SignalingServer(settings, sqlite_engine)) as server,
        simulating(sim_config(server.port, devices=1, channels=1)) as sim,
    ):
        device = next(iter(sim.devices.values()))
        await eventually(lambda: device.subscription is not None)
        dialog = device.subscription
        assert dialog is not None
        first_seq = dialog.remote_seq or 0
        await eventually(lambda: (dialog.remote_seq or 0) >= first_seq + 2)
        assert device.subscription is dialog  # refreshed in the same dialog
        assert server.subscriptions.is_active(device.device_id)
        assert await device.notify_catalog("OFF", device.plan.channels) == 200
