"""Device presence persistence: startup load, pending admission, batched write-behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices
from vigil.registry.channels import ChannelFields, create_channel, get_channel
from vigil.registry.device_presence import (
    PresenceBatch,
    PresenceChange,
    PresenceWriteStats,
    admit_pending_device,
    load_known_device,
    load_known_devices,
    write_presence_batch,
)
from vigil.registry.devices import DeviceFields, create_device, get_device
from vigil.registry.scope import UNRESTRICTED

from .seed import COUNTY_A, RETENTION, point_id

NVR = point_id(COUNTY_A, 1, type_code=118)
IPC = point_id(COUNTY_A, 2, type_code=132)
CAM_1 = point_id(COUNTY_A, 11, type_code=131)
CAM_2 = point_id(COUNTY_A, 12, type_code=131)


async def _nvr_with_channels(conn: AsyncConnection) -> None:
    await create_device(conn, UNRESTRICTED, NVR, DeviceFields(name="NVR", sip_password="own"))
    for cam in (CAM_1, CAM_2):
        await create_channel(
            conn,
            UNRESTRICTED,
            cam,
            ChannelFields(name="通道", region_code=COUNTY_A, device_id=NVR),
            retention=RETENTION,
        )
    await conn.execute(channels.update().values(online=True))


async def test_load_known_devices_with_passwords(conn: AsyncConnection) -> None:
    await _nvr_with_channels(conn)
    await create_device(conn, UNRESTRICTED, IPC, DeviceFields(status="disabled"))
    await create_device(
        conn,
        UNRESTRICTED,
        point_id(COUNTY_A, 3),
        DeviceFields(kind="rtsp", rtsp_url="rtsp://10.0.0.3/1"),
    )
    known = await load_known_devices(conn)
    assert [(d.id, d.status, d.sip_password) for d in known] == [
        (NVR, "active", "own"),
        (IPC, "disabled", ""),
    ]
    one = await load_known_device(conn, NVR)
    assert one is not None
    assert one.region_code == COUNTY_A
    assert await load_known_device(conn, point_id(COUNTY_A, 3)) is None  # RTSP never registers
    assert await load_known_device(conn, point_id(COUNTY_A, 99)) is None


async def test_admit_pending_device_is_idempotent(conn: AsyncConnection) -> None:
    first = await admit_pending_device(conn, IPC, transport="tcp", address="10.1.2.3:5060")
    assert (first.status, first.transport, first.address) == ("pending", "tcp", "10.1.2.3:5060")
    assert first.region_code == COUNTY_A  # the deepest registered region of its centre code
    again = await admit_pending_device(conn, IPC, transport="udp", address="10.1.2.4:5060")
    assert again.status == "pending"
    assert again.address == "10.1.2.4:5060"


async def test_batch_coalesces_and_writes_once_per_column_set(conn: AsyncConnection) -> None:
    await _nvr_with_channels(conn)
    await create_device(conn, UNRESTRICTED, IPC, DeviceFields())
    at = datetime(2024, 5, 17, 6, 7, 33, tzinfo=UTC)
    batch = PresenceBatch()
    batch.add_device(PresenceChange(NVR, online=True, registered_at=at, address="1.2.3.4:5060"))
    batch.add_device(PresenceChange(NVR, last_keepalive_at=at + timedelta(seconds=60)))
    batch.add_device(PresenceChange(IPC, online=True, registered_at=at, address="1.2.3.5:5060"))
    batch.add_device(PresenceChange(IPC, last_keepalive_at=at, transport="udp"))
    batch.add_channel_status(CAM_1, NVR, False)
    stats = PresenceWriteStats()
    await write_presence_batch(conn, batch, stats)
    nvr = await get_device(conn, UNRESTRICTED, NVR)
    assert nvr.online
    assert nvr.address == "1.2.3.4:5060"
    assert nvr.last_keepalive_at == at + timedelta(seconds=60)
    assert nvr.registered_at == at
    ipc = await get_device(conn, UNRESTRICTED, IPC)
    assert ipc.online
    assert ipc.transport == "udp"
    assert not (await get_channel(conn, UNRESTRICTED, CAM_1, retention=RETENTION)).online
    assert (await get_channel(conn, UNRESTRICTED, CAM_2, retention=RETENTION)).online
    # Two devices with different column sets, one channel status: three statements.
    assert (stats.batches, stats.statements, stats.device_rows) == (1, 3, 2)


async def test_device_offline_takes_its_channels_offline(conn: AsyncConnection) -> None:
    await _nvr_with_channels(conn)
    batch = PresenceBatch()
    batch.add_device(PresenceChange(NVR, online=True))
    batch.add_device(PresenceChange(NVR, online=False))
    stats = PresenceWriteStats()
    await write_presence_batch(conn, batch, stats)
    assert not (await get_device(conn, UNRESTRICTED, NVR)).online
    rows = (await conn.execute(select(channels.c.online, channels.c.status_changed_at))).all()
    assert [row.online for row in rows] == [False, False]
    assert all(row.status_changed_at is not None for row in rows)
    assert stats.channel_rows == 2


async def test_channel_status_only_for_the_owning_device(conn: AsyncConnection) -> None:
    await _nvr_with_channels(conn)
    await create_device(conn, UNRESTRICTED, IPC, DeviceFields())
    batch = PresenceBatch()
    batch.add_channel_status(CAM_1, IPC, False)  # not IPC's channel: untouched
    batch.add_channel_status(CAM_2, NVR, False)
    await write_presence_batch(conn, batch)
    rows = await conn.execute(select(channels.c.id, channels.c.online))
    online = {row.id: bool(row.online) for row in rows}
    assert online == {CAM_1: True, CAM_2: False}


async def test_long_text_is_clipped_to_the_columns(conn: AsyncConnection) -> None:
    await create_device(conn, UNRESTRICTED, IPC, DeviceFields())
    batch = PresenceBatch()
    batch.add_device(PresenceChange(IPC, manufacturer="海" * 300, model="M", firmware="F"))
    await write_presence_batch(conn, batch)
    value = await conn.scalar(select(devices.c.manufacturer).where(devices.c.id == IPC))
    assert value == "海" * 100
