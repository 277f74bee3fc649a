"""Regions: code normalisation, parents, scope, deletion rules and the counted tree."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, regions
from vigil.registry.channels import ChannelFields, create_channel
from vigil.registry.errors import (
    InUseError,
    NotFoundError,
    ScopeError,
    UnknownRegionError,
    ValidationError,
)
from vigil.registry.regions import (
    delete_region,
    get_region,
    import_regions,
    list_regions,
    region_tree,
    upsert_region,
)
from vigil.registry.scope import UNRESTRICTED, Scope

from .seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, SCOPE_B, point_id


async def test_codes_are_normalised_and_levels_derived(conn: AsyncConnection) -> None:
    region = await upsert_region(conn, UNRESTRICTED, "34020300", "弋江区 (renamed)")
    assert region.code == COUNTY_B
    assert region.level == 3
    assert region.parent_code == "3402"
    assert (await get_region(conn, UNRESTRICTED, "340203")).name == "弋江区 (renamed)"
    assert (await get_region(conn, UNRESTRICTED, "340200")).level == 2


async def test_parent_is_longest_registered_prefix_and_children_are_adopted(
    conn: AsyncConnection,
) -> None:
    station = await upsert_region(conn, UNRESTRICTED, "34050101", "station below no county")
    assert station.parent_code == "34"  # neither 3405 nor 340501 exist yet
    city = await upsert_region(conn, UNRESTRICTED, "3405", "马鞍山市")
    assert city.parent_code == "34"
    assert (await get_region(conn, UNRESTRICTED, "34050101")).parent_code == "3405"
    await upsert_region(conn, UNRESTRICTED, "340501", "county")
    assert (await get_region(conn, UNRESTRICTED, "34050101")).parent_code == "340501"


async def test_unknown_province_and_malformed_codes_are_refused(conn: AsyncConnection) -> None:
    with pytest.raises(UnknownRegionError) as unknown:
        await upsert_region(conn, UNRESTRICTED, "990101", "nowhere")
    assert unknown.value.field == "code"
    for bad in ("3", "340", "34a2", "00", "123456789"):
        with pytest.raises(ValidationError):
            await upsert_region(conn, UNRESTRICTED, bad, "bad")
    with pytest.raises(ValidationError) as empty:
        await upsert_region(conn, UNRESTRICTED, "3403", "  ")
    assert empty.value.field == "name"


async def test_scope_limits_edits_and_reads(conn: AsyncConnection) -> None:
    await upsert_region(conn, SCOPE_A, "34020202", "station in A")
    with pytest.raises(ScopeError):
        await upsert_region(conn, SCOPE_A, "34020301", "station in B")
    with pytest.raises(NotFoundError):
        await get_region(conn, SCOPE_A, COUNTY_B)
    # Ancestors are visible as context; siblings are not.
    assert (await get_region(conn, SCOPE_A, "3402")).name == "芜湖市"
    codes = [region.code for region in await list_regions(conn, SCOPE_A)]
    assert codes == ["34", "3402", COUNTY_A, "34020201", "34020202"]
    children = await list_regions(conn, SCOPE_A, parent="340200")
    assert [region.code for region in children] == [COUNTY_A]
    assert await list_regions(conn, Scope()) == []


async def test_delete_refuses_regions_in_use(conn: AsyncConnection) -> None:
    with pytest.raises(InUseError, match="child regions"):
        await delete_region(conn, UNRESTRICTED, COUNTY_A)
    await create_channel(
        conn,
        UNRESTRICTED,
        point_id("34020201", 1),
        ChannelFields(name="gate", region_code="34020201"),
        retention=RETENTION,
    )
    with pytest.raises(InUseError, match="collection points"):
        await delete_region(conn, UNRESTRICTED, "34020201")
    with pytest.raises(NotFoundError):
        await delete_region(conn, SCOPE_B, "34020201")
    await delete_region(conn, UNRESTRICTED, "340102")
    with pytest.raises(NotFoundError):
        await get_region(conn, UNRESTRICTED, "340102")


async def test_import_regions_reports_every_bad_row_and_writes_nothing(
    conn: AsyncConnection,
) -> None:
    with pytest.raises(ValidationError) as failure:
        await import_regions(
            conn,
            UNRESTRICTED,
            [("3404", "淮南市"), ("34x", "bad"), ("3404", "again"), ("770101", "no province")],
        )
    fields = [problem.field for problem in failure.value.problems]
    assert fields == ["rows[1].code", "rows[2].code", "rows[3].code"]
    with pytest.raises(NotFoundError):
        await get_region(conn, UNRESTRICTED, "3404")
    report = await import_regions(
        conn, UNRESTRICTED, [("340401", "county first"), ("3404", "淮南市"), ("3402", "芜湖")]
    )
    assert (report.created, report.updated, report.unchanged) == (2, 1, 0)
    assert (await get_region(conn, UNRESTRICTED, "340401")).parent_code == "3404"
    again = await import_regions(conn, UNRESTRICTED, [("3404", "淮南市")])
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


async def _add_points(conn: AsyncConnection, region: str, count: int, online: int) -> None:
    for serial in range(count):
        await create_channel(
            conn,
            UNRESTRICTED,
            point_id(region, serial + 1),
            ChannelFields(name=f"p{serial}", region_code=region),
            retention=RETENTION,
        )
    await conn.execute(
        channels.update()
        .where(channels.c.region_code == region, channels.c.id <= point_id(region, online))
        .values(online=True)
    )


async def test_region_tree_counts_aggregate_upwards(conn: AsyncConnection) -> None:
    await _add_points(conn, "34020201", 3, online=2)
    await _add_points(conn, COUNTY_A, 2, online=1)
    await _add_points(conn, COUNTY_B, 4, online=0)
    await _add_points(conn, "340102", 1, online=1)

    roots = await region_tree(conn, UNRESTRICTED)
    anhui = next(node for node in roots if node.code == "34")
    assert (anhui.channels_total, anhui.channels_online) == (10, 4)
    wuhu = next(node for node in anhui.children if node.code == "3402")
    assert (wuhu.channels_total, wuhu.channels_online) == (9, 3)
    county_a = next(node for node in wuhu.children if node.code == COUNTY_A)
    assert (county_a.channels_total, county_a.channels_online) == (5, 3)
    assert [child.code for child in county_a.children] == ["34020201"]
    provinces = await conn.scalar(select(func.count()).where(regions.c.level == 1))
    assert len(roots) == provinces  # every province is shown to an unrestricted caller

    scoped = await region_tree(conn, SCOPE_A)
    assert [node.code for node in scoped] == ["34"]
    assert [node.code for node in scoped[0].children] == ["3402"]
    assert [node.code for node in scoped[0].children[0].children] == [COUNTY_A]
    assert (scoped[0].channels_total, scoped[0].channels_online) == (5, 3)


async def test_region_tree_for_an_owner_scope_shows_where_its_points_are(
    conn: AsyncConnection,
) -> None:
    org_b = 2  # ORG-B, created second by the seed
    await create_channel(
        conn,
        UNRESTRICTED,
        point_id(COUNTY_A, 77),
        ChannelFields(name="school annex", region_code=COUNTY_A, org_id=org_b),
        retention=RETENTION,
    )
    await _add_points(conn, COUNTY_A, 2, online=2)
    roots = await region_tree(conn, Scope(org_ids=(org_b,)))
    assert [node.code for node in roots] == ["34"]
    wuhu = roots[0].children[0]
    assert sorted(child.code for child in wuhu.children) == [COUNTY_A, COUNTY_B]
    county_a = next(child for child in wuhu.children if child.code == COUNTY_A)
    assert county_a.channels_total == 1  # only its own point, not the county's others
