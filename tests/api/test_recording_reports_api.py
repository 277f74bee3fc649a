"""Recordings timeline, evidence locks, alarms and coverage over HTTP: scope, roles, audit."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pytest
import sqlalchemy as sa

from tests.api.conftest import Login, add_user, seed_two_counties
from tests.recording.synthetic_segments import add_run
from vigil.access.roles import Role
from vigil.api.context import ApiContext
from vigil.db.tables import audit_log
from vigil.recording import events
from vigil.recording.alarms import raise_alarm

JINGHU_1 = "34020200001310000001"  # class 1
JINGHU_2 = "34020200001310000002"  # class 2
JIUJIANG_3 = "34020700001310000003"  # class 1, the other county


@pytest.fixture
async def people(
    client: httpx.AsyncClient, admin: dict[str, str], api_ctx: ApiContext, login: Login
) -> dict[str, dict[str, str]]:
    await seed_two_counties(client, admin)
    await add_user(api_ctx.engine, "jh-op", Role.OPERATOR, regions=("340202",))
    await add_user(api_ctx.engine, "jh-view", Role.VIEWER, regions=("340202",))
    return {
        "admin": admin,
        "operator": await login("jh-op", "user-secret-42"),
        "viewer": await login("jh-view", "user-secret-42"),
    }


async def audited(api_ctx: ApiContext, action: str) -> list[tuple[str, str, dict[str, object]]]:
    async with api_ctx.engine.connect() as conn:
        rows = await conn.execute(
            sa.select(audit_log.c.actor, audit_log.c.target, audit_log.c.detail)
            .where(audit_log.c.action == action)
            .order_by(audit_log.c.id)
        )
        return [(a, t, json.loads(d)) for a, t, d in rows]


async def test_recordings_shape_and_scope(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, str]],
    api_ctx: ApiContext,
    tmp_path: Path,
) -> None:
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    await add_run(api_ctx.engine, tmp_path / "pool", JINGHU_1, t0, 2)
    await add_run(api_ctx.engine, tmp_path / "pool", JINGHU_1, t0 + timedelta(minutes=5), 1)
    async with api_ctx.engine.begin() as conn:
        await events.add_event(conn, JINGHU_1, events.STREAM_LOST, at=t0 + timedelta(minutes=2))
    url = f"/api/v1/channels/{JINGHU_1}/recordings"
    params = {"start": "2026-11-20T08:00:00Z", "end": "2026-11-20T08:10:00+00:00"}
    response = await client.get(url, params=params, headers=people["viewer"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["channel_id"] == JINGHU_1
    assert (body["start"], body["end"]) == ("2026-11-20T08:00:00Z", "2026-11-20T08:10:00Z")
    assert [s["start"] for s in body["segments"]] == [
        "2026-11-20T08:00:00Z",
        "2026-11-20T08:01:00Z",
        "2026-11-20T08:05:00Z",
    ]
    first = body["segments"][0]
    assert set(first) == {"id", "start", "end", "duration_s", "size_bytes", "recovered"}
    assert (first["duration_s"], first["size_bytes"], first["recovered"]) == (60.0, 1000, False)
    assert body["spans"] == [
        {"start": "2026-11-20T08:00:00Z", "end": "2026-11-20T08:02:00Z"},
        {"start": "2026-11-20T08:05:00Z", "end": "2026-11-20T08:06:00Z"},
    ]
    assert body["gaps"] == [
        {"start": "2026-11-20T08:02:00Z", "end": "2026-11-20T08:05:00Z", "cause": "stream_lost"},
        {"start": "2026-11-20T08:06:00Z", "end": "2026-11-20T08:10:00Z", "cause": "unknown"},
    ]
    other = f"/api/v1/channels/{JIUJIANG_3}/recordings"
    assert (await client.get(other, params=params, headers=people["viewer"])).status_code == 404
    assert (await client.get(url, params=params)).status_code == 401
    backwards = {"start": params["end"], "end": params["start"]}
    assert (await client.get(url, params=backwards, headers=people["admin"])).status_code == 422
    too_long = {"start": "2026-11-01T00:00:00Z", "end": "2026-11-20T00:00:00Z"}
    assert (await client.get(url, params=too_long, headers=people["admin"])).status_code == 422


async def test_evidence_locks_roles_scope_and_audit(
    client: httpx.AsyncClient, people: dict[str, dict[str, str]], api_ctx: ApiContext
) -> None:
    lock = {
        "start": "2026-11-20T08:00:00Z",
        "end": "2026-11-20T09:00:00Z",
        "reason": "抢劫案 robbery",
        "case_number": "WH-2026-113",
    }
    url = f"/api/v1/channels/{JINGHU_1}/evidence-locks"
    assert (await client.post(url, json=lock, headers=people["viewer"])).status_code == 403
    other = f"/api/v1/channels/{JIUJIANG_3}/evidence-locks"
    assert (await client.post(other, json=lock, headers=people["operator"])).status_code == 404
    bad = {**lock, "end": lock["start"]}
    assert (await client.post(url, json=bad, headers=people["operator"])).status_code == 422
    response = await client.post(url, json=lock, headers=people["operator"])
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["locked_by"] == "jh-op"
    assert created["active"] is True
    assert created["start_at"] == "2026-11-20T08:00:00Z"
    listed = (await client.get(url, headers=people["viewer"])).json()
    assert [item["id"] for item in listed["items"]] == [created["id"]]
    assert (await client.get(other, headers=people["viewer"])).status_code == 404
    assert await audited(api_ctx, "evidence.lock") == [
        (
            "jh-op",
            JINGHU_1,
            {
                "lock_id": created["id"],
                "start": "2026-11-20T08:00:00Z",
                "end": "2026-11-20T09:00:00Z",
                "reason": "抢劫案 robbery",
                "case_number": "WH-2026-113",
                "expires_at": None,
            },
        )
    ]
    # A lock on the other county: invisible (404) to the county's operator.
    foreign = (await client.post(other, json=lock, headers=people["admin"])).json()
    release = "/api/v1/evidence-locks/{}"
    assert (
        await client.delete(release.format(foreign["id"]), headers=people["operator"])
    ).status_code == 404
    assert (
        await client.delete(release.format(created["id"]), headers=people["viewer"])
    ).status_code == 403
    response = await client.delete(release.format(created["id"]), headers=people["operator"])
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["released_by"] == "jh-op"
    again = await client.delete(release.format(created["id"]), headers=people["operator"])
    assert again.status_code == 409
    assert (await client.delete(release.format(99999), headers=people["admin"])).status_code == 404
    unlocks = await audited(api_ctx, "evidence.unlock")
    assert [(actor, target) for actor, target, _ in unlocks] == [("jh-op", JINGHU_1)]
    active = (await client.get(url, params={"active": "true"}, headers=people["viewer"])).json()
    assert active["items"] == []


async def test_alarms_list_and_acknowledge(
    client: httpx.AsyncClient, people: dict[str, dict[str, str]], api_ctx: ApiContext
) -> None:
    async with api_ctx.engine.begin() as conn:
        alarm, _ = await raise_alarm(
            conn, kind="storage_full", source="default", severity="critical", message="full"
        )
        await raise_alarm(conn, kind="storage_full", source="default", message="still full")
        old, _ = await raise_alarm(conn, kind="recorder_behind", source=JINGHU_2, message="x")
        await conn.execute(sa.text(f"UPDATE alarms SET cleared_at = at WHERE id = {old.id}"))
    open_only = await client.get(
        "/api/v1/alarms", params={"open": "true"}, headers=people["viewer"]
    )
    assert open_only.status_code == 200
    body = open_only.json()
    assert body["total"] == 1
    assert body["items"][0]["message"] == "still full"  # raised twice: one alarm, refreshed
    everything = (await client.get("/api/v1/alarms", headers=people["viewer"])).json()
    assert everything["total"] == 2
    ack = f"/api/v1/alarms/{alarm.id}/ack"
    assert (await client.post(ack, headers=people["viewer"])).status_code == 403
    response = await client.post(ack, headers=people["operator"])
    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "jh-op"
    assert (
        await client.post("/api/v1/alarms/424242/ack", headers=people["admin"])
    ).status_code == 404
    assert [(a, t) for a, t, _ in await audited(api_ctx, "alarm.ack")] == [("jh-op", str(alarm.id))]


async def test_coverage_report_scope_filters_and_xlsx(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, str]],
    api_ctx: ApiContext,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(hours=3)
    await add_run(api_ctx.engine, tmp_path / "pool", JINGHU_1, start, 3, duration_s=3600)
    today = now.astimezone(ZoneInfo(api_ctx.recording.coverage_timezone)).date()
    params: dict[str, str | int] = {"date": today.isoformat(), "days": 2}
    response = await client.get("/api/v1/coverage", params=params, headers=people["operator"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "Asia/Shanghai"
    assert body["days"] == [(today - timedelta(days=1)).isoformat(), today.isoformat()]
    assert [item["channel_id"] for item in body["items"]] == [JINGHU_1, JINGHU_2]
    assert body["total"] == 2
    assert body["summary"] == {"meeting": 0, "total": 2, "rate_pct": 0.0}
    first = body["items"][0]
    assert first["guarantee_days"] == 30
    assert first["meets_guarantee"] is False
    cell = first["days"][-1]
    assert cell["date"] == today.isoformat()
    assert cell["recorded_s"] == pytest.approx(min(3 * 3600, cell["expected_s"]), abs=1)
    assert all(g["cause"] == "unknown" for g in cell["gaps"])
    assert body["items"][1]["days"][-1]["recorded_s"] == 0
    by_class = await client.get(
        "/api/v1/coverage", params={**params, "class": 2}, headers=people["operator"]
    )
    assert [item["channel_id"] for item in by_class.json()["items"]] == [JINGHU_2]
    everyone = (await client.get("/api/v1/coverage", params=params, headers=people["admin"])).json()
    assert everyone["total"] == 4
    assert everyone["summary"]["total"] == 3  # the class-3 point has no guarantee
    region = await client.get(
        "/api/v1/coverage", params={**params, "region": "340207"}, headers=people["operator"]
    )
    assert region.json()["total"] == 0

    exported = await client.get(
        "/api/v1/coverage.xlsx", params={**params, "lang": "en"}, headers=people["operator"]
    )
    assert exported.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(exported.content), read_only=True).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Point ID", "Name", "Region")
    assert [(r[0], r[6]) for r in rows[1:]] == [
        (JINGHU_1, (today - timedelta(days=1)).isoformat()),
        (JINGHU_1, today.isoformat()),
        (JINGHU_2, (today - timedelta(days=1)).isoformat()),
        (JINGHU_2, today.isoformat()),
    ]
    assert rows[1][5] == "no"
    exports = await audited(api_ctx, "coverage.export")
    assert [(actor, detail["channels"]) for actor, _, detail in exports] == [("jh-op", 2)]
