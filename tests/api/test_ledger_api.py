"""Ledger import through the API: the error report, all or nothing, idempotent re-import."""

from __future__ import annotations

import httpx

from tests.api.conftest import TWO_COUNTY_LEDGER, seed_two_counties


async def test_bad_row_reports_row_and_column_and_applies_nothing(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    for code, name in (("3402", "芜湖市"), ("340202", "镜湖区")):
        await client.post("/api/v1/regions", json={"code": code, "name": name}, headers=admin)
    ledger = (
        "编码,名称,行政区划,点位类别\n"
        "34020200001310000001,镜湖 路口 1,340202,1\n"
        "340202000013100000,短编码,340202,1\n"
        "34020200001310000003,未知区划,349999,2\n"
    ).encode("gb18030")
    response = await client.post(
        "/api/v1/ledger/import", files={"file": ("l.csv", ledger, "text/csv")}, headers=admin
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "ledger_invalid"
    by_row = {(d["row"], d["column"]) for d in error["details"]}
    assert (3, "编码") in by_row
    assert (4, "行政区划") in by_row
    assert (await client.get("/api/v1/channels", headers=admin)).json()["total"] == 0


async def test_reimport_is_idempotent(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await seed_two_counties(client, admin)
    again = await client.post(
        "/api/v1/ledger/import",
        files={"file": ("ledger.csv", TWO_COUNTY_LEDGER, "text/csv")},
        headers=admin,
    )
    assert again.status_code == 200
    body = again.json()
    assert body["created"] == 0
    assert body["unchanged"] == 4


async def test_dry_run_changes_nothing(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    for code, name in (("3402", "芜湖市"), ("340202", "镜湖区"), ("340207", "鸠江区")):
        await client.post("/api/v1/regions", json={"code": code, "name": name}, headers=admin)
    response = await client.post(
        "/api/v1/ledger/import?dry_run=true",
        files={"file": ("ledger.csv", TWO_COUNTY_LEDGER, "text/csv")},
        headers=admin,
    )
    assert response.status_code == 200
    assert response.json()["created"] == 4
    assert (await client.get("/api/v1/channels", headers=admin)).json()["total"] == 0


async def test_xlsx_export_reimports(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await seed_two_counties(client, admin)
    exported = await client.get("/api/v1/ledger/export?format=xlsx&lang=zh", headers=admin)
    assert exported.status_code == 200
    assert exported.content[:2] == b"PK"
    again = await client.post(
        "/api/v1/ledger/import",
        files={"file": ("ledger.xlsx", exported.content, "application/octet-stream")},
        headers=admin,
    )
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == 4


async def test_filters_select_the_right_points(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await seed_two_counties(client, admin)

    async def ids(query: str) -> list[str]:
        body = (await client.get(f"/api/v1/channels?{query}", headers=admin)).json()
        return sorted(item["id"][-1] for item in body["items"])

    assert await ids("point_class=1") == ["1", "3"]
    assert await ids("network=internet") == ["4"]
    assert await ids("region=340207") == ["3", "4"]
    assert await ids("q=学校") == ["2"]
    assert await ids("online=true") == []
    page = (await client.get("/api/v1/channels?limit=2&offset=2", headers=admin)).json()
    assert page["total"] == 4
    assert len(page["items"]) == 2


async def test_edit_validates_fields(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    await seed_two_counties(client, admin)
    bad = await client.patch(
        "/api/v1/channels/34020200001310000001",
        json={"point_class": 7, "longitude": 500},
        headers=admin,
    )
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.json()["error"]["details"]}
    assert {"point_class", "longitude"} <= fields
    good = await client.patch(
        "/api/v1/channels/34020200001310000001",
        json={"name": "新名称", "retention_override": 45},
        headers=admin,
    )
    assert good.status_code == 200, good.text
    assert good.json()["name"] == "新名称"
    assert good.json()["retention_days"] == 45
