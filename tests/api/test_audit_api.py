"""The audit chain through the API: actions are recorded; tampering is reported."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from tests.api.conftest import seed_two_counties
from vigil.api.context import ApiContext


async def test_actions_are_recorded_and_the_chain_verifies(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    await seed_two_counties(client, admin)
    await client.patch(
        "/api/v1/channels/34020200001310000001", json={"name": "改名"}, headers=admin
    )
    listing = (await client.get("/api/v1/audit?limit=100", headers=admin)).json()
    actions = [item["action"] for item in listing["items"]]
    for expected in ("auth.login", "region.create", "ledger.import", "channel.update"):
        assert expected in actions
    report = (await client.get("/api/v1/audit/verify", headers=admin)).json()
    assert report["ok"] is True
    assert report["checked"] >= 5


async def test_tampering_is_reported_by_verify(
    client: httpx.AsyncClient, admin: dict[str, str], api_ctx: ApiContext
) -> None:
    await seed_two_counties(client, admin)
    async with api_ctx.engine.begin() as conn:
        await conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE id = 2"))
    report = (await client.get("/api/v1/audit/verify", headers=admin)).json()
    assert report["ok"] is False
    assert any(problem["id"] == 2 for problem in report["problems"])
