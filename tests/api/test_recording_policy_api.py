"""Recording policies over the API: class defaults, overrides with schedules, scope, audit."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Login, add_user, seed_two_counties
from vigil.access.roles import Role
from vigil.api.context import ApiContext

JINGHU_1 = "34020200001310000001"  # class 1
JINGHU_2 = "34020200001310000002"  # class 2
JIUJIANG_3 = "34020700001310000003"  # class 1, other county
JIUJIANG_4 = "34020700001310000004"  # class 3


def _url(channel_id: str) -> str:
    return f"/api/v1/channels/{channel_id}/recording-policy"


@pytest.fixture
async def seeded(client: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    await seed_two_counties(client, admin)
    return admin


async def test_class_defaults(client: httpx.AsyncClient, seeded: dict[str, str]) -> None:
    for channel_id, recorded in ((JINGHU_1, True), (JINGHU_2, True), (JIUJIANG_4, False)):
        body = (await client.get(_url(channel_id), headers=seeded)).json()
        assert body["enabled"] is recorded
        assert body["class_default"] is recorded
        assert body["overridden"] is False
        assert body["schedule"] == []
        assert body["pool"] == "default"
        assert body["recording"] is None  # no recorder in this API-only platform


async def test_override_with_schedule_is_stored_and_audited(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    schedule = [[0, 480, 1200], [4, 480, 1200]]
    answer = await client.put(
        _url(JIUJIANG_4), json={"enabled": True, "schedule": schedule}, headers=seeded
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["enabled"], body["overridden"], body["schedule"]) == (True, True, schedule)
    assert body["override"]["updated_by"] == "admin"
    assert body["next_change"] is not None
    again = (await client.get(_url(JIUJIANG_4), headers=seeded)).json()
    assert again["schedule"] == schedule
    # Back to the class default.
    assert (await client.delete(_url(JIUJIANG_4), headers=seeded)).status_code == 204
    reset = (await client.get(_url(JIUJIANG_4), headers=seeded)).json()
    assert (reset["enabled"], reset["overridden"]) == (False, False)
    listing = (await client.get("/api/v1/audit?limit=100", headers=seeded)).json()
    actions = [item["action"] for item in listing["items"]]
    assert "recording_policy.update" in actions
    assert "recording_policy.reset" in actions


@pytest.mark.parametrize(
    "body",
    [
        {"schedule": [[7, 0, 60]]},
        {"schedule": [[0, 600, 600]]},
        {"schedule": [[0, 0, 1441]]},
        {"schedule": [[0, 10]]},
        {"pool": "nowhere"},
    ],
)
async def test_invalid_policies_are_refused(
    client: httpx.AsyncClient, seeded: dict[str, str], body: dict[str, object]
) -> None:
    answer = await client.put(_url(JINGHU_1), json=body, headers=seeded)
    assert answer.status_code == 422, answer.text
    unchanged = (await client.get(_url(JINGHU_1), headers=seeded)).json()
    assert unchanged["overridden"] is False


async def test_scope_and_role(
    client: httpx.AsyncClient, seeded: dict[str, str], api_ctx: ApiContext, login: Login
) -> None:
    await add_user(api_ctx.engine, "jinghu-op", Role.OPERATOR, regions=("340202",))
    await add_user(api_ctx.engine, "watcher", Role.VIEWER, regions=("3402",))
    operator = await login("jinghu-op", "user-secret-42")
    viewer = await login("watcher", "user-secret-42")
    off = {"enabled": False}
    assert (await client.put(_url(JINGHU_2), json=off, headers=operator)).status_code == 200
    # Outside the operator's county: not found, and nothing changes.
    assert (await client.get(_url(JIUJIANG_3), headers=operator)).status_code == 404
    assert (await client.put(_url(JIUJIANG_3), json=off, headers=operator)).status_code == 404
    assert (await client.get(_url(JIUJIANG_3), headers=seeded)).json()["enabled"] is True
    # A viewer reads but does not change.
    assert (await client.get(_url(JINGHU_1), headers=viewer)).status_code == 200
    assert (await client.put(_url(JINGHU_1), json=off, headers=viewer)).status_code == 403
