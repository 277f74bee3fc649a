"""Owner organisations: validation, scope by id or region, listing, deletion rules."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.registry.channels import ChannelFields, create_channel
from vigil.registry.errors import (
    ConflictError,
    InUseError,
    NotFoundError,
    ScopeError,
    UnknownRegionError,
    ValidationError,
)
from vigil.registry.organisations import (
    OrganisationFields,
    create_organisation,
    delete_organisation,
    get_organisation,
    get_organisation_by_code,
    list_organisations,
    update_organisation,
)
from vigil.registry.scope import UNRESTRICTED, Scope

from .seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, SCOPE_B, point_id


async def test_create_validates_every_field(conn: AsyncConnection) -> None:
    with pytest.raises(ValidationError) as failure:
        await create_organisation(
            conn,
            UNRESTRICTED,
            OrganisationFields(code="has space", name="", industry_code="7", region_code="3x"),
        )
    fields = {problem.field for problem in failure.value.problems}
    assert fields == {"code", "name", "industry_code", "region_code"}
    with pytest.raises(ValidationError, match="reserved") as reserved:
        await create_organisation(
            conn, UNRESTRICTED, OrganisationFields(code="X1", name="x", industry_code="20")
        )
    assert reserved.value.field == "industry_code"
    with pytest.raises(UnknownRegionError):
        await create_organisation(
            conn, UNRESTRICTED, OrganisationFields(code="X1", name="x", region_code="340299")
        )
    with pytest.raises(ConflictError):
        await create_organisation(conn, UNRESTRICTED, OrganisationFields(code="ORG-A", name="x"))


async def test_create_and_update_round_trip(conn: AsyncConnection) -> None:
    org = await create_organisation(
        conn,
        SCOPE_A,
        OrganisationFields(
            code="BANK-1",
            name=" 工商银行镜湖支行 ",
            industry_code="51",
            region_code="34020200",
            contact_phone="0553-1234567",
        ),
    )
    assert (org.name, org.region_code, org.industry_code) == ("工商银行镜湖支行", COUNTY_A, "51")
    changed = await update_organisation(conn, SCOPE_A, org.id, {"contact_name": "王经理"})
    assert changed.contact_name == "王经理"
    assert changed.contact_phone == "0553-1234567"
    assert (await get_organisation_by_code(conn, SCOPE_A, "BANK-1")).id == org.id
    with pytest.raises(ValidationError) as unknown:
        await update_organisation(conn, SCOPE_A, org.id, {"colour": "red"})
    assert unknown.value.field == "colour"


async def test_scope_covers_by_region_or_by_id(conn: AsyncConnection) -> None:
    org_a = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-A")
    org_b = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-B")
    with pytest.raises(NotFoundError):
        await get_organisation(conn, SCOPE_A, org_b.id)
    assert (await get_organisation(conn, Scope(org_ids=(org_b.id,)), org_b.id)).code == "ORG-B"
    with pytest.raises(ScopeError):
        await update_organisation(conn, SCOPE_A, org_a.id, {"region_code": COUNTY_B})
    with pytest.raises(ScopeError):
        await create_organisation(
            conn, SCOPE_A, OrganisationFields(code="B2", name="b", region_code=COUNTY_B)
        )
    with pytest.raises(ScopeError):
        await create_organisation(conn, SCOPE_A, OrganisationFields(code="NOREGION", name="n"))
    with pytest.raises(NotFoundError):
        await delete_organisation(conn, SCOPE_B, org_a.id)


async def test_list_filters_and_pages(conn: AsyncConnection) -> None:
    for index in range(5):
        await create_organisation(
            conn,
            UNRESTRICTED,
            OrganisationFields(code=f"SHOP-{index}", name=f"Shop {index}", region_code=COUNTY_A),
        )
    page = await list_organisations(conn, UNRESTRICTED, region="340202", offset=1, limit=2)
    assert page.total == 6
    assert [org.code for org in page.items] == ["SHOP-0", "SHOP-1"]
    by_text = await list_organisations(conn, UNRESTRICTED, text="shop 3")
    assert [org.code for org in by_text.items] == ["SHOP-3"]
    chinese = await list_organisations(conn, UNRESTRICTED, text="中学")
    assert [org.code for org in chinese.items] == ["ORG-B"]
    literal = await list_organisations(conn, UNRESTRICTED, text="%")
    assert literal.total == 0  # wildcards are matched literally
    scoped = await list_organisations(conn, SCOPE_B)
    assert [org.code for org in scoped.items] == ["ORG-B"]
    with pytest.raises(ValidationError):
        await list_organisations(conn, UNRESTRICTED, limit=501)


async def test_delete_refuses_an_owner_of_points(conn: AsyncConnection) -> None:
    org_a = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-A")
    await create_channel(
        conn,
        UNRESTRICTED,
        point_id(COUNTY_A, 1),
        ChannelFields(name="gate", region_code=COUNTY_A, org_id=org_a.id),
        retention=RETENTION,
    )
    with pytest.raises(InUseError, match="1 collection points"):
        await delete_organisation(conn, UNRESTRICTED, org_a.id)
    org_b = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-B")
    await delete_organisation(conn, SCOPE_B, org_b.id)
    with pytest.raises(NotFoundError):
        await get_organisation(conn, UNRESTRICTED, org_b.id)
