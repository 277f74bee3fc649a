"""An in-process API on a fresh database (SQLite and PostgreSQL), driven over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.audit_key import load_or_create_audit_key
from vigil.access.roles import Role
from vigil.access.users import create_user, ensure_admin
from vigil.api.app import create_app
from vigil.api.context import ApiContext
from vigil.settings import AuthSettings, RetentionSettings

ADMIN_PASSWORD = "admin-secret-42"

Login = Callable[[str, str], Awaitable[dict[str, str]]]


@pytest.fixture
async def api_ctx(engine: AsyncEngine, tmp_path: Path) -> ApiContext:
    async with engine.begin() as conn:
        await ensure_admin(conn, "admin", ADMIN_PASSWORD)
    return ApiContext(
        engine=engine,
        auth=AuthSettings(max_failures=3, failure_window_s=60, lockout_s=30),
        retention=RetentionSettings(),
        audit_key=load_or_create_audit_key(tmp_path),
        max_upload_bytes=256 * 1024,
    )


@pytest.fixture
async def client(api_ctx: ApiContext) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil.test") as c:
        yield c


@pytest.fixture
def login(client: httpx.AsyncClient) -> Login:
    async def do(username: str, password: str) -> dict[str, str]:
        response = await client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    return do


@pytest.fixture
async def admin(login: Login) -> dict[str, str]:
    return await login("admin", ADMIN_PASSWORD)


async def add_user(
    engine: AsyncEngine,
    username: str,
    role: Role,
    *,
    regions: tuple[str, ...] = (),
    orgs: tuple[int, ...] = (),
    password: str = "user-secret-42",
) -> None:
    async with engine.begin() as conn:
        await create_user(conn, username, password, role, scope_regions=regions, scope_orgs=orgs)


TWO_COUNTY_LEDGER = (
    "id,name,region_code,org_code,org_name,point_class,network,resolution\n"
    "34020200001310000001,镜湖 路口 1,340202,JH-PSB,镜湖区公安分局,1,police_video,1920x1080\n"
    "34020200001310000002,镜湖 学校 2,340202,WH-SCH1,芜湖市第一中学,2,social_video,1280x720\n"
    "34020700001310000003,鸠江 车站 3,340207,JJ-PSB,鸠江区公安分局,1,police_video,1920x1080\n"
    "34020700001310000004,鸠江 商店 4,340207,JJ-SHOP,沿街商户,3,internet,704x576\n"
).encode()


async def seed_two_counties(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for code, name in (("3402", "芜湖市"), ("340202", "镜湖区"), ("340207", "鸠江区")):
        response = await client.post(
            "/api/v1/regions", json={"code": code, "name": name}, headers=headers
        )
        assert response.status_code == 201, response.text
    response = await client.post(
        "/api/v1/ledger/import",
        files={"file": ("ledger.csv", TWO_COUNTY_LEDGER, "text/csv")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 4
