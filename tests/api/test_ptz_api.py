"""POST /channels/{id}/ptz without a device behind it: who may steer, which points can be
steered, what a valid command is, and the audit record of every attempt. (The command reaching
a camera and moving its picture: tests/api/test_ptz_live.py.)"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import Login, add_user, seed_two_counties
from vigil.access.roles import Role

JINGHU = "34020200001310000001"  # in county 340202
JINGHU_SCHOOL = "34020200001310000002"


def _url(channel_id: str) -> str:
    return f"/api/v1/channels/{channel_id}/ptz"


async def _ptz_audit(client: httpx.AsyncClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/audit", params={"action": "ptz.control"}, headers=admin)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_who_may_steer_and_what_is_audited(
    client: httpx.AsyncClient, admin: dict[str, str], login: Login, engine: AsyncEngine
) -> None:
    await seed_two_counties(client, admin)
    await add_user(engine, "watcher", Role.VIEWER, regions=("340202",))
    await add_user(engine, "jiujiang-duty", Role.OPERATOR, regions=("340207",))
    move = {"action": "move", "pan": 1, "speed": 200}

    viewer = await login("watcher", "user-secret-42")
    answer = await client.post(_url(JINGHU), json=move, headers=viewer)
    assert answer.status_code == 403, answer.text
    assert "ptz.control" in answer.json()["error"]["message"]

    elsewhere = await login("jiujiang-duty", "user-secret-42")
    answer = await client.post(_url(JINGHU), json=move, headers=elsewhere)
    assert answer.status_code == 404, answer.text

    patched = await client.patch(
        f"/api/v1/channels/{JINGHU_SCHOOL}", json={"ptz_type": 3}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    answer = await client.post(_url(JINGHU_SCHOOL), json=move, headers=admin)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "not_steerable"

    # unknown PTZType is allowed through, but this ledger point has no device to command
    answer = await client.post(_url(JINGHU), json={"action": "stop"}, headers=admin)
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"]["code"] == "no_device"

    records = await _ptz_audit(client, admin)
    seen = {(r["actor"], r["target"], r["outcome"]) for r in records}
    assert seen == {
        ("watcher", JINGHU, "denied"),
        ("jiujiang-duty", JINGHU, "denied"),
        ("admin", JINGHU_SCHOOL, "refused"),
        ("admin", JINGHU, "refused"),
    }
    by_actor = {r["actor"]: r for r in records}
    assert by_actor["watcher"]["detail"]["pan"] == 1
    assert by_actor["watcher"]["detail"]["speed"] == 200
    assert by_actor["watcher"]["detail"]["action"] == "move"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "move", "pan": 2}, "move.pan"),
        ({"action": "move", "tilt": -1.5}, "move.tilt"),
        ({"action": "move", "zoom": 1, "speed": 0}, "move.speed"),
        ({"action": "move", "speed": 256}, "move.speed"),
        ({"action": "move", "pan_speed": 9}, "move.pan_speed"),
        ({"action": "preset", "op": "call"}, "preset.preset"),
        ({"action": "preset", "op": "call", "preset": 0}, "preset.preset"),
        ({"action": "preset", "op": "rename", "preset": 3}, "preset.op"),
        ({"action": "focus", "direction": "open"}, "focus.direction"),
        ({"action": "iris"}, "iris.direction"),
    ],
)
async def test_invalid_commands_name_the_field(
    client: httpx.AsyncClient, admin: dict[str, str], body: dict[str, Any], field: str
) -> None:
    answer = await client.post(_url(JINGHU), json=body, headers=admin)
    assert answer.status_code == 422, answer.text
    assert field in [d["field"] for d in answer.json()["error"]["details"]]


async def test_an_unknown_action_is_named(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    answer = await client.post(_url(JINGHU), json={"action": "spin"}, headers=admin)
    assert answer.status_code == 422, answer.text
    (detail,) = answer.json()["error"]["details"]
    assert detail["field"] == "action"
    assert "move" in detail["reason"]
    missing = await client.post(_url(JINGHU), json={"pan": 1}, headers=admin)
    assert missing.status_code == 422, missing.text
    assert [d["field"] for d in missing.json()["error"]["details"]] == ["action"]


async def test_openapi_documents_the_command(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/channels/{channel_id}/ptz"]["post"]
    assert {"403", "404", "409", "422"} <= set(operation["responses"])
    names = set(schema["components"]["schemas"])
    assert {"PtzMoveCommand", "PtzStopCommand", "PtzPresetCommand"} <= names
    assert schema["components"]["schemas"]["PtzMoveCommand"]["properties"]["pan"]["maximum"] == 1
