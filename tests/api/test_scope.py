"""A user of county A never reads, lists, exports or edits county B."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.api.conftest import Login, add_user, seed_two_counties
from vigil.access.roles import Role
from vigil.api.context import ApiContext

JINGHU_1 = "34020200001310000001"
JIUJIANG_3 = "34020700001310000003"


@pytest.fixture
async def county_a_operator(
    client: httpx.AsyncClient, admin: dict[str, str], api_ctx: ApiContext, login: Login
) -> dict[str, str]:
    await seed_two_counties(client, admin)
    await add_user(api_ctx.engine, "jinghu-op", Role.OPERATOR, regions=("340202",))
    return await login("jinghu-op", "user-secret-42")


async def test_list_shows_only_the_callers_county(
    client: httpx.AsyncClient, county_a_operator: dict[str, str]
) -> None:
    body = (await client.get("/api/v1/channels", headers=county_a_operator)).json()
    assert body["total"] == 2
    assert {item["region_code"] for item in body["items"]} == {"340202"}
    # Asking for the other county explicitly yields nothing, not an error that leaks it.
    other = await client.get("/api/v1/channels?region=340207", headers=county_a_operator)
    assert other.json()["total"] == 0


async def test_get_outside_scope_is_not_found(
    client: httpx.AsyncClient, county_a_operator: dict[str, str]
) -> None:
    assert (await client.get(f"/api/v1/channels/{JINGHU_1}", headers=county_a_operator)).is_success
    response = await client.get(f"/api/v1/channels/{JIUJIANG_3}", headers=county_a_operator)
    assert response.status_code == 404


async def test_edit_outside_scope_fails_and_changes_nothing(
    client: httpx.AsyncClient, county_a_operator: dict[str, str], admin: dict[str, str]
) -> None:
    response = await client.patch(
        f"/api/v1/channels/{JIUJIANG_3}", json={"name": "hijacked"}, headers=county_a_operator
    )
    assert response.status_code == 404
    unchanged = (await client.get(f"/api/v1/channels/{JIUJIANG_3}", headers=admin)).json()
    assert unchanged["name"] == "鸠江 车站 3"


async def test_moving_a_point_out_of_scope_is_refused(
    client: httpx.AsyncClient, county_a_operator: dict[str, str], admin: dict[str, str]
) -> None:
    response = await client.patch(
        f"/api/v1/channels/{JINGHU_1}", json={"region_code": "340207"}, headers=county_a_operator
    )
    assert response.status_code == 403
    still = (await client.get(f"/api/v1/channels/{JINGHU_1}", headers=admin)).json()
    assert still["region_code"] == "340202"


async def test_export_contains_only_the_callers_points(
    client: httpx.AsyncClient, county_a_operator: dict[str, str]
) -> None:
    response = await client.get(
        "/api/v1/ledger/export?format=csv&lang=en", headers=county_a_operator
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert sorted(row["id"] for row in rows) == [
        "34020200001310000001",
        "34020200001310000002",
    ]


async def test_import_into_another_county_is_rejected_whole(
    client: httpx.AsyncClient, county_a_operator: dict[str, str], admin: dict[str, str]
) -> None:
    ledger = (
        b"id,name,region_code,point_class\n"
        b"34020200001310000009,new point,340202,1\n"
        b"34020700001310000010,sneaky point,340207,1\n"
    )
    response = await client.post(
        "/api/v1/ledger/import",
        files={"file": ("l.csv", ledger, "text/csv")},
        headers=county_a_operator,
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert any(d["row"] == 3 for d in details)
    # All or nothing: the valid first row was not applied either.
    total = (await client.get("/api/v1/channels", headers=admin)).json()["total"]
    assert total == 4


async def test_region_tree_counts_only_scope(
    client: httpx.AsyncClient, county_a_operator: dict[str, str]
) -> None:
    nodes = (await client.get("/api/v1/regions/tree", headers=county_a_operator)).json()["nodes"]
    codes: list[str] = []

    def walk(items: list[dict[str, object]]) -> None:
        for node in items:
            codes.append(str(node["code"]))
            children = node.get("children", [])
            assert isinstance(children, list)
            walk(children)

    walk(nodes)
    assert "340202" in codes
    assert "340207" not in codes


async def test_organisation_scoped_viewer_sees_only_its_organisation(
    client: httpx.AsyncClient, admin: dict[str, str], api_ctx: ApiContext, login: Login
) -> None:
    await seed_two_counties(client, admin)
    orgs = (await client.get("/api/v1/organisations?q=第一中学", headers=admin)).json()["items"]
    assert len(orgs) == 1
    await add_user(api_ctx.engine, "school-guard", Role.VIEWER, orgs=(orgs[0]["id"],))
    guard = await login("school-guard", "user-secret-42")
    body = (await client.get("/api/v1/channels", headers=guard)).json()
    assert [item["id"] for item in body["items"]] == ["34020200001310000002"]
    # A viewer may read but not edit even inside its scope.
    edit = await client.patch(
        "/api/v1/channels/34020200001310000002", json={"name": "x"}, headers=guard
    )
    assert edit.status_code == 403
