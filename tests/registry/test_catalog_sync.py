"""Catalog diff into the ledger: added / changed / removed, regions, Chinese names, partials."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels
from vigil.protocols.gb28181.manscdp import CatalogItem
from vigil.registry.catalog_sync import remove_catalog_channels, sync_catalog
from vigil.registry.channels import ChannelFields, create_channel, get_channel, update_channel
from vigil.registry.devices import DeviceFields, create_device
from vigil.registry.errors import NotFoundError
from vigil.registry.scope import UNRESTRICTED

from .seed import COUNTY_A, COUNTY_B, RETENTION, point_id

NVR = point_id(COUNTY_A, 1, type_code=118)


def cam(serial: int, **fields: object) -> CatalogItem:
    values: dict[str, object] = {
        "device_id": point_id(COUNTY_A, serial, type_code=131),
        "name": f"萳溪桥 {serial}号",
        "civil_code": COUNTY_A,
        "status": "ON",
        "parental": False,
        "parent_id": NVR,
        "manufacturer": "Hikvision",
        "model": "DS-2CD",
        "ptz_type": 1,
        "longitude": 118.4,
        "latitude": 31.3,
        **fields,
    }
    return CatalogItem(**values)  # type: ignore[arg-type]


@pytest.fixture
async def nvr(conn: AsyncConnection) -> str:
    await create_device(conn, UNRESTRICTED, NVR, DeviceFields(name="NVR"))
    return NVR


async def _rows(conn: AsyncConnection) -> dict[str, dict[str, object]]:
    rows = await conn.execute(select(*channels.c).order_by(channels.c.id))
    return {row.id: row._asdict() for row in rows}


async def test_first_catalog_adds_channels_with_names_intact(
    conn: AsyncConnection, nvr: str
) -> None:
    items = [cam(1), cam(2, status="OFF"), cam(3)]
    items.append(CatalogItem(device_id=point_id(COUNTY_A, 4, type_code=131), name="简"))
    region_node = CatalogItem(device_id="340202", name="镜湖区")
    alarm_input = CatalogItem(device_id=point_id(COUNTY_A, 9, type_code=134), name="门磁")
    report = await sync_catalog(conn, nvr, [*items, region_node, alarm_input], complete=True)
    assert report.complete
    assert report.added == tuple(item.device_id for item in items)
    assert report.ignored == ("340202", alarm_input.device_id)
    assert (report.changed, report.removed, report.unplaced) == ((), (), ())
    rows = await _rows(conn)
    assert [row["name"] for row in rows.values()] == [
        "萳溪桥 1号",
        "萳溪桥 2号",
        "萳溪桥 3号",
        "简",
    ]
    assert [row["online"] for row in rows.values()] == [True, False, True, True]
    first = rows[items[0].device_id]
    assert first["device_id"] == nvr
    assert first["region_code"] == COUNTY_A
    assert (first["ptz_type"], first["manufacturer"]) == (1, "Hikvision")


async def test_region_falls_back_to_the_device_then_the_id(conn: AsyncConnection) -> None:
    await create_device(conn, UNRESTRICTED, NVR, DeviceFields(region_code=COUNTY_B))
    unknown_civil = cam(1, civil_code="999999")
    registered_civil = cam(2, civil_code="340203")
    report = await sync_catalog(conn, NVR, [unknown_civil, registered_civil], complete=True)
    assert len(report.added) == 2
    rows = await _rows(conn)
    assert rows[unknown_civil.device_id]["region_code"] == COUNTY_B  # the device's region
    assert rows[registered_civil.device_id]["region_code"] == COUNTY_B  # its CivilCode
    orphan_device = point_id("99", 5, type_code=118)  # centre code of no registered region
    await create_device(conn, UNRESTRICTED, orphan_device, DeviceFields(region_code=None))
    own_centre = CatalogItem(device_id=point_id("340102", 7, type_code=131), name="x")
    report = await sync_catalog(conn, orphan_device, [own_centre], complete=True)
    assert (await _rows(conn))[own_centre.device_id]["region_code"] == "340102"


async def test_second_catalog_reports_changes_and_removals(conn: AsyncConnection, nvr: str) -> None:
    await sync_catalog(conn, nvr, [cam(1), cam(2), cam(3)], complete=True)
    await update_channel(conn, UNRESTRICTED, cam(1).device_id, {"point_class": 1},
                         retention=RETENTION)  # fmt: skip
    renamed = cam(1, name="中山路口", status="OFF")
    report = await sync_catalog(conn, nvr, [renamed, cam(2)], complete=True)
    assert report.changed == (renamed.device_id,)
    assert report.unchanged == 1
    assert report.removed == (cam(3).device_id,)
    assert set(report.status_changes) == {(renamed.device_id, False), (cam(3).device_id, False)}
    rows = await _rows(conn)
    assert rows[renamed.device_id]["name"] == "中山路口"
    assert rows[renamed.device_id]["point_class"] == 1  # the ledger's own field is kept
    removed = rows[cam(3).device_id]
    assert removed["online"] is False or removed["online"] == 0
    assert removed["device_id"] == nvr  # kept, not deleted
    again = await sync_catalog(conn, nvr, [renamed, cam(2)], complete=True)
    assert again.changed == ()
    assert again.unchanged == 2


async def test_partial_catalog_removes_nothing(conn: AsyncConnection, nvr: str) -> None:
    await sync_catalog(conn, nvr, [cam(1), cam(2)], complete=True)
    report = await sync_catalog(conn, nvr, [cam(1, name="新名字")], complete=False)
    assert not report.complete
    assert report.removed == ()
    assert (await _rows(conn))[cam(2).device_id]["online"]


async def test_device_offline_means_channels_offline(conn: AsyncConnection, nvr: str) -> None:
    report = await sync_catalog(conn, nvr, [cam(1)], complete=True, device_online=False)
    assert report.status_changes == ((cam(1).device_id, False),)
    assert not (await _rows(conn))[cam(1).device_id]["online"]


async def test_absent_fields_are_left_alone_and_ledger_points_are_linked(
    conn: AsyncConnection, nvr: str
) -> None:
    ledger_point = point_id(COUNTY_A, 5, type_code=131)
    await create_channel(
        conn,
        UNRESTRICTED,
        ledger_point,
        ChannelFields(name="台账名称", region_code=COUNTY_A, address="芜湖市中山路"),
        retention=RETENTION,
    )
    bare = CatalogItem(device_id=ledger_point, status="ON")
    report = await sync_catalog(conn, nvr, [bare], complete=True)
    assert report.changed == (ledger_point,)
    point = await get_channel(conn, UNRESTRICTED, ledger_point, retention=RETENTION)
    assert (point.name, point.address, point.device_id) == ("台账名称", "芜湖市中山路", nvr)


async def test_bad_values_are_dropped_not_fatal(conn: AsyncConnection, nvr: str) -> None:
    odd = dataclasses.replace(
        cam(1), name="长" * 300, ptz_type=9, longitude=500.0, civil_code="34x2", latitude=91.0
    )
    report = await sync_catalog(conn, nvr, [odd], complete=True)
    assert report.added == (odd.device_id,)
    row = (await _rows(conn))[odd.device_id]
    assert row["name"] == "长" * 200
    assert (row["ptz_type"], row["longitude"], row["latitude"], row["civil_code"]) == (
        None,
        None,
        None,
        "",
    )


async def test_remove_only_touches_the_devices_own_channels(
    conn: AsyncConnection, nvr: str
) -> None:
    await sync_catalog(conn, nvr, [cam(1), cam(2)], complete=True)
    other = point_id(COUNTY_A, 50, type_code=131)
    report = await remove_catalog_channels(conn, nvr, [cam(1).device_id, other])
    assert report.removed == (cam(1).device_id,)
    assert report.ignored == (other,)
    assert report.status_changes == ((cam(1).device_id, False),)
    rows = await _rows(conn)
    assert not rows[cam(1).device_id]["online"]
    assert rows[cam(2).device_id]["online"]


async def test_unknown_device_is_refused(conn: AsyncConnection) -> None:
    with pytest.raises(NotFoundError):
        await sync_catalog(conn, NVR, [cam(1)], complete=True)


async def test_a_thousand_channels_in_one_sync(conn: AsyncConnection, nvr: str) -> None:
    items = [cam(serial) for serial in range(1, 1001)]
    report = await sync_catalog(conn, nvr, items, complete=True)
    assert len(report.added) == 1000
    moved = [cam(serial, name=f"改 {serial}") for serial in range(1, 1001)]
    report = await sync_catalog(conn, nvr, moved[:900], complete=True)
    assert (len(report.changed), len(report.removed)) == (900, 100)
