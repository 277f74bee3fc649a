"""Devices: ID and kind validation, the write-only password, scope, filters."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import devices
from vigil.registry.channels import ChannelFields, create_channel, get_channel
from vigil.registry.devices import (
    DeviceFields,
    DeviceFilter,
    create_device,
    delete_device,
    device_sip_password,
    get_device,
    list_devices,
    update_device,
)
from vigil.registry.errors import ConflictError, NotFoundError, ScopeError, ValidationError
from vigil.registry.scope import UNRESTRICTED

from .seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, SCOPE_B, point_id

NVR_A = point_id(COUNTY_A, 1, type_code=118)


async def test_create_records_type_and_default_region(conn: AsyncConnection) -> None:
    device = await create_device(
        conn, UNRESTRICTED, NVR_A, DeviceFields(name="NVR 1", sip_password="s3cret")
    )
    assert (device.type_code, device.type_name) == (118, "NVR")
    assert device.region_code == COUNTY_A  # deepest registered region of the centre code
    assert device.has_own_password
    assert await device_sip_password(conn, NVR_A) == "s3cret"
    assert await device_sip_password(conn, point_id(COUNTY_A, 9)) is None
    with pytest.raises(ConflictError):
        await create_device(conn, UNRESTRICTED, NVR_A, DeviceFields())
    nowhere = await create_device(conn, UNRESTRICTED, "00000000001180000001", DeviceFields())
    assert nowhere.region_code is None  # a centre code of zeros names no region
    with pytest.raises(NotFoundError):
        await get_device(conn, SCOPE_A, nowhere.id)


async def test_validation(conn: AsyncConnection) -> None:
    with pytest.raises(ValidationError) as short:
        await create_device(conn, UNRESTRICTED, "3402020000118000001", DeviceFields())
    assert short.value.field == "id"
    with pytest.raises(ValidationError) as rtsp:
        await create_device(
            conn, UNRESTRICTED, NVR_A, DeviceFields(kind="rtsp", rtsp_url="http://cam/1")
        )
    assert rtsp.value.field == "rtsp_url"
    with pytest.raises(ValidationError) as kind:
        await create_device(conn, UNRESTRICTED, NVR_A, DeviceFields(kind="onvif", status="x"))
    assert {p.field for p in kind.value.problems} == {"kind", "status"}
    camera = await create_device(
        conn,
        UNRESTRICTED,
        point_id(COUNTY_A, 2),
        DeviceFields(kind="rtsp", rtsp_url="rtsp://10.0.0.2/stream1"),
    )
    assert camera.kind == "rtsp"
    with pytest.raises(ValidationError) as org:
        await update_device(conn, UNRESTRICTED, camera.id, {"org_id": 999})
    assert org.value.field == "org_id"


async def test_password_is_kept_unless_changed(conn: AsyncConnection) -> None:
    await create_device(conn, UNRESTRICTED, NVR_A, DeviceFields(sip_password="first"))
    await update_device(conn, UNRESTRICTED, NVR_A, {"name": "renamed"})
    assert await device_sip_password(conn, NVR_A) == "first"
    cleared = await update_device(conn, UNRESTRICTED, NVR_A, {"sip_password": ""})
    assert not cleared.has_own_password


async def test_scope(conn: AsyncConnection) -> None:
    await create_device(conn, SCOPE_A, NVR_A, DeviceFields())
    with pytest.raises(NotFoundError):
        await get_device(conn, SCOPE_B, NVR_A)
    with pytest.raises(ScopeError):
        await update_device(conn, SCOPE_A, NVR_A, {"region_code": COUNTY_B})
    with pytest.raises(ScopeError):
        await create_device(conn, SCOPE_A, point_id(COUNTY_B, 1, 118), DeviceFields())
    assert (await list_devices(conn, SCOPE_B)).total == 0
    with pytest.raises(NotFoundError):
        await delete_device(conn, SCOPE_B, NVR_A)


async def test_list_filters(conn: AsyncConnection) -> None:
    for serial in range(1, 4):
        await create_device(
            conn,
            UNRESTRICTED,
            point_id(COUNTY_A, serial, 118),
            DeviceFields(name=f"NVR {serial}", model="DS-7608" if serial == 2 else "X"),
        )
    await create_device(conn, UNRESTRICTED, point_id(COUNTY_B, 1, 118), DeviceFields())
    await conn.execute(devices.update().where(devices.c.id == NVR_A).values(online=True))
    assert (await list_devices(conn, UNRESTRICTED, DeviceFilter(online=True))).total == 1
    assert (await list_devices(conn, UNRESTRICTED, DeviceFilter(region="3402"))).total == 4
    by_model = await list_devices(conn, UNRESTRICTED, DeviceFilter(text="ds-76"))
    assert [device.name for device in by_model.items] == ["NVR 2"]
    page = await list_devices(conn, UNRESTRICTED, offset=3, limit=2)
    assert (page.total, len(page.items)) == (4, 1)


async def test_deleting_a_device_keeps_its_points(conn: AsyncConnection) -> None:
    await create_device(conn, UNRESTRICTED, NVR_A, DeviceFields())
    camera = point_id(COUNTY_A, 5)
    await create_channel(
        conn,
        UNRESTRICTED,
        camera,
        ChannelFields(name="cam", region_code=COUNTY_A, device_id=NVR_A),
        retention=RETENTION,
    )
    await delete_device(conn, UNRESTRICTED, NVR_A)
    assert (await get_channel(conn, UNRESTRICTED, camera, retention=RETENTION)).device_id is None
