"""Login, tokens, throttling and the error shape."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from tests.api.conftest import ADMIN_PASSWORD, Login
from vigil.api.context import ApiContext
from vigil.db.tables import audit_log


async def test_login_returns_a_token_that_authenticates(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    me = await client.get("/api/v1/auth/me", headers=admin)
    assert me.status_code == 200
    body = me.json()
    assert body["username"] == "admin"
    assert body["role"] == "admin"
    assert body["scope"]["all"] is True
    assert "users.manage" in body["permissions"]


async def test_missing_and_bad_tokens_get_401_in_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/channels")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bad = await client.get("/api/v1/channels", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert set(bad.json()["error"]) == {"code", "message", "details"}


async def test_wrong_password_is_refused_and_audited(
    client: httpx.AsyncClient, api_ctx: ApiContext
) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": "wrong-password"}
    )
    assert response.status_code == 401
    unknown = await client.post(
        "/api/v1/auth/login", json={"username": "nobody", "password": "wrong-password"}
    )
    assert unknown.status_code == 401
    # No user enumeration: both failures read the same.
    assert unknown.json()["error"]["message"] == response.json()["error"]["message"]
    async with api_ctx.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(audit_log.c.actor, audit_log.c.outcome).where(
                    audit_log.c.action == "auth.login"
                )
            )
        ).all()
    assert ("admin", "failed") in rows
    assert ("nobody", "failed") in rows


async def test_repeated_failures_throttle_even_the_right_password(
    client: httpx.AsyncClient,
) -> None:
    for _ in range(3):  # api_ctx allows 3 failures per window
        await client.post("/api/v1/auth/login", json={"username": "admin", "password": "bad-pw-1"})
    response = await client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "throttled"
    assert int(response.headers["retry-after"]) >= 1


async def test_logout_revokes_the_token(client: httpx.AsyncClient, login: Login) -> None:
    headers = await login("admin", ADMIN_PASSWORD)
    assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_token_in_query_string_is_accepted_for_browsers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
    )
    token = response.json()["token"]
    assert (await client.get(f"/api/v1/auth/me?token={token}")).status_code == 200


async def test_password_change_revokes_sessions(
    client: httpx.AsyncClient, admin: dict[str, str], login: Login
) -> None:
    created = await client.post(
        "/api/v1/users",
        json={"username": "op1", "password": "first-pass-9", "role": "operator"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    op = await login("op1", "first-pass-9")
    changed = await client.post(
        f"/api/v1/users/{user_id}/password", json={"password": "second-pass-9"}, headers=admin
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=op)).status_code == 401
    await login("op1", "second-pass-9")


async def test_non_admin_cannot_manage_users(
    client: httpx.AsyncClient, admin: dict[str, str], login: Login
) -> None:
    await client.post(
        "/api/v1/users",
        json={"username": "viewer1", "password": "viewer-pass-9", "role": "viewer"},
        headers=admin,
    )
    viewer = await login("viewer1", "viewer-pass-9")
    response = await client.get("/api/v1/users", headers=viewer)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    escalate = await client.post(
        "/api/v1/users",
        json={"username": "evil", "password": "evil-pass-99", "role": "admin"},
        headers=viewer,
    )
    assert escalate.status_code == 403


async def test_weak_password_is_refused_with_a_reason(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"username": "weak", "password": "123", "role": "viewer"},
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"]
