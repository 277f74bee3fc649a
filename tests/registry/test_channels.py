"""Collection points: validation with field-named errors, retention, scope, filters, paging."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels
from vigil.registry.channels import (
    ChannelFields,
    ChannelFilter,
    create_channel,
    delete_channel,
    get_channel,
    list_channels,
    update_channel,
)
from vigil.registry.devices import DeviceFields, create_device
from vigil.registry.errors import (
    ConflictError,
    NotFoundError,
    ScopeError,
    UnknownRegionError,
    ValidationError,
)
from vigil.registry.organisations import get_organisation_by_code
from vigil.registry.scope import UNRESTRICTED, Scope
from vigil.settings import RetentionSettings

from .seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, SCOPE_B, point_id

CAM_A = point_id(COUNTY_A, 1)


async def _create(
    conn: AsyncConnection, channel_id: str = CAM_A, scope: Scope = UNRESTRICTED, **fields: object
) -> object:
    values: dict[str, object] = {"name": "路口 1", "region_code": COUNTY_A, **fields}
    return await create_channel(
        conn,
        scope,
        channel_id,
        ChannelFields(**values),
        retention=RETENTION,  # type: ignore[arg-type]
    )


async def test_create_and_read_back_every_field(conn: AsyncConnection) -> None:
    org_a = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-A")
    nvr = point_id(COUNTY_A, 1, type_code=118)
    await create_device(conn, UNRESTRICTED, nvr, DeviceFields())
    await _create(
        conn,
        region_code="34020200",
        org_id=org_a.id,
        device_id=nvr,
        point_class=1,
        network="police_video",
        resolution="1920X1080",
        retention_override=45,
        ptz_type=1,
        longitude=118.38,
        latitude=31.33,
        address="镜湖路与中山路交叉口",
        civil_code="340202",
        secrecy=True,
        manufacturer="Hikvision",
        model="DS-2DE",
    )
    point = await get_channel(conn, SCOPE_A, CAM_A, retention=RETENTION)
    assert point.region_code == COUNTY_A
    assert (point.resolution, point.hd) == ("1920x1080", True)
    assert (point.retention_days, point.retention_override) == (45, 45)
    assert (point.longitude, point.latitude) == (118.38, 31.33)
    assert (point.org_id, point.device_id, point.secrecy) == (org_a.id, nvr, True)
    assert point.online is False
    assert point.created_at.tzinfo is not None


async def test_retention_defaults_to_the_class_setting(conn: AsyncConnection) -> None:
    await _create(conn, point_class=2)
    point = await get_channel(conn, UNRESTRICTED, CAM_A, retention=RETENTION)
    assert (point.retention_days, point.retention_override) == (15, None)
    custom = RetentionSettings(class2_days=20)
    assert (await get_channel(conn, UNRESTRICTED, CAM_A, retention=custom)).retention_days == 20


async def test_validation_names_each_bad_field(conn: AsyncConnection) -> None:
    with pytest.raises(ValidationError) as failure:
        await _create(
            conn,
            name=" ",
            point_class=4,
            network="lan",
            resolution="big",
            ptz_type=8,
            longitude=181.0,
            latitude=-91.0,
            civil_code="340",
        )
    fields = {problem.field for problem in failure.value.problems}
    assert fields == {
        "name", "point_class", "network", "resolution", "ptz_type", "longitude", "latitude",
        "civil_code",
    }  # fmt: skip
    with pytest.raises(ValidationError, match="200"):
        await _create(conn, name="x" * 201)


@pytest.mark.parametrize(
    ("type_code", "words"),
    [(200, "type 200 (central signalling control server)"), (118, "type 118 (NVR)")],
)
async def test_ids_that_are_not_collection_points_are_refused(
    conn: AsyncConnection, type_code: int, words: str
) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)) as failure:
        await _create(conn, point_id(COUNTY_A, 1, type_code=type_code))
    assert failure.value.field == "id"


@pytest.mark.parametrize("type_code", [120, 125, 131, 132, 138])
async def test_collection_point_types_are_accepted(conn: AsyncConnection, type_code: int) -> None:
    await _create(conn, point_id(COUNTY_A, 1, type_code=type_code))


async def test_malformed_ids_and_unknown_references(conn: AsyncConnection) -> None:
    for bad in ("3402020000132000001", "3402020000132000000a", ""):
        with pytest.raises(ValidationError) as failure:
            await _create(conn, bad)
        assert failure.value.field == "id"
    with pytest.raises(UnknownRegionError):
        await _create(conn, region_code="340299")
    with pytest.raises(ValidationError) as org:
        await _create(conn, org_id=12345)
    assert org.value.field == "org_id"
    with pytest.raises(ValidationError) as device:
        await _create(conn, device_id=point_id(COUNTY_A, 7, 118))
    assert device.value.field == "device_id"
    await _create(conn)
    with pytest.raises(ConflictError):
        await _create(conn)


async def test_retention_override_rules(conn: AsyncConnection) -> None:
    with pytest.raises(ValidationError, match="below the class 1 minimum of 30") as low:
        await _create(conn, point_class=1, retention_override=29)
    assert low.value.field == "retention_override"
    with pytest.raises(ValidationError):
        await _create(conn, point_class=3, retention_override=0)
    await _create(conn, point_class=3, retention_override=3)
    # Raising the class makes the stored override too short: refused, naming the override.
    with pytest.raises(ValidationError) as upgrade:
        await update_channel(conn, UNRESTRICTED, CAM_A, {"point_class": 2}, retention=RETENTION)
    assert upgrade.value.field == "retention_override"
    point = await update_channel(
        conn,
        UNRESTRICTED,
        CAM_A,
        {"point_class": 2, "retention_override": None},
        retention=RETENTION,
    )
    assert point.retention_days == 15


async def test_partial_update_and_hd_rederivation(conn: AsyncConnection) -> None:
    await _create(conn, resolution="704x576", address="old")
    point = await update_channel(
        conn, UNRESTRICTED, CAM_A, {"resolution": "1280x720"}, retention=RETENTION
    )
    assert (point.hd, point.address, point.name) == (True, "old", "路口 1")
    forced = await update_channel(
        conn, UNRESTRICTED, CAM_A, {"resolution": "D1", "hd": True}, retention=RETENTION
    )
    assert (forced.resolution, forced.hd) == ("720x576", True)
    with pytest.raises(ValidationError) as unknown:
        await update_channel(conn, UNRESTRICTED, CAM_A, {"online": True}, retention=RETENTION)
    assert unknown.value.field == "online"


async def test_scope_hides_and_refuses(conn: AsyncConnection) -> None:
    await _create(conn, scope=SCOPE_A)
    with pytest.raises(NotFoundError):
        await get_channel(conn, SCOPE_B, CAM_A, retention=RETENTION)
    with pytest.raises(NotFoundError):
        await update_channel(conn, SCOPE_B, CAM_A, {"name": "x"}, retention=RETENTION)
    with pytest.raises(NotFoundError):
        await delete_channel(conn, SCOPE_B, CAM_A)
    with pytest.raises(ScopeError):
        await update_channel(conn, SCOPE_A, CAM_A, {"region_code": COUNTY_B}, retention=RETENTION)
    with pytest.raises(ScopeError):
        await _create(conn, point_id(COUNTY_B, 1), scope=SCOPE_A, region_code=COUNTY_B)
    assert (await list_channels(conn, SCOPE_B, retention=RETENTION)).total == 0
    # An owner-scoped caller sees the owner's points wherever they are.
    org_b = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-B")
    await update_channel(conn, UNRESTRICTED, CAM_A, {"org_id": org_b.id}, retention=RETENTION)
    owner_scope = Scope(org_ids=(org_b.id,))
    assert (await get_channel(conn, owner_scope, CAM_A, retention=RETENTION)).id == CAM_A
    await delete_channel(conn, SCOPE_A, CAM_A)
    assert (await list_channels(conn, UNRESTRICTED, retention=RETENTION)).total == 0


async def test_a_county_may_use_a_city_wide_owner_but_not_a_sibling_one(
    conn: AsyncConnection,
) -> None:
    from vigil.registry.organisations import OrganisationFields, create_organisation

    city_org = await create_organisation(
        conn, UNRESTRICTED, OrganisationFields(code="CITY", name="市局", region_code="3402")
    )
    await _create(conn, scope=SCOPE_A, org_id=city_org.id)
    org_b = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-B")
    with pytest.raises(ValidationError):
        await _create(conn, point_id(COUNTY_A, 2), scope=SCOPE_A, org_id=org_b.id)


async def test_filters_and_pages(conn: AsyncConnection) -> None:
    org_a = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-A")
    specs = [
        (COUNTY_A, 1, "police_video", "人民路 100%", org_a.id),
        (COUNTY_A, 2, "social_video", "School gate", None),
        ("34020201", 3, "wireless", "派出所门口", org_a.id),
        (COUNTY_B, 1, "internet", "school_yard", None),
    ]
    for serial, (region, point_class, network, address, org_id) in enumerate(specs, 1):
        await _create(
            conn,
            point_id(region, serial),
            region_code=region,
            point_class=point_class,
            network=network,
            address=address,
            org_id=org_id,
            name=f"点位{serial}",
        )
    await conn.execute(
        channels.update().where(channels.c.id == point_id(COUNTY_A, 1)).values(online=True)
    )

    async def ids(flt: ChannelFilter, scope: Scope = UNRESTRICTED) -> list[int]:
        page = await list_channels(conn, scope, flt, retention=RETENTION)
        assert page.total == len(page.items)
        return [int(item.id[-6:]) for item in page.items]

    assert await ids(ChannelFilter(region="340202")) == [1, 2, 3]
    assert await ids(ChannelFilter(region="34020200")) == [1, 2, 3]
    assert await ids(ChannelFilter(region="3402")) == [1, 2, 3, 4]
    assert await ids(ChannelFilter(point_class=1)) == [1, 4]
    assert await ids(ChannelFilter(network="wireless")) == [3]
    assert await ids(ChannelFilter(online=True)) == [1]
    assert await ids(ChannelFilter(online=False)) == [2, 3, 4]
    assert await ids(ChannelFilter(org_id=org_a.id)) == [1, 3]
    assert await ids(ChannelFilter(text="SCHOOL")) == [2, 4]
    assert await ids(ChannelFilter(text="100%")) == [1]
    assert await ids(ChannelFilter(text="_")) == [4]  # wildcards match literally
    assert await ids(ChannelFilter(text="派出所")) == [3]
    assert await ids(ChannelFilter(text=point_id(COUNTY_B, 4)[-8:])) == [4]
    assert await ids(ChannelFilter(region="3402", point_class=1), SCOPE_A) == [1]
    page = await list_channels(conn, UNRESTRICTED, offset=1, limit=2, retention=RETENTION)
    assert (page.total, [item.id[-1] for item in page.items]) == (4, ["2", "3"])
    with pytest.raises(ValidationError) as bad:
        await list_channels(
            conn, UNRESTRICTED, ChannelFilter(region="3", network="lan"), retention=RETENTION
        )
    assert {problem.field for problem in bad.value.problems} == {"region", "network"}
    with pytest.raises(ValidationError):
        await list_channels(conn, UNRESTRICTED, limit=0, retention=RETENTION)
