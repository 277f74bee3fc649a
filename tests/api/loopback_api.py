"""The API on a real loopback socket (streaming and WebSockets need a real server), with the
steps the tests around live video and device recordings share: the admin and two counties
in the database, a simulated camera whose channel is in the ledger, signing in."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.conftest import ADMIN_PASSWORD, add_user
from tests.signaling.conftest import eventually, simulating
from vigil.access.audit_key import load_or_create_audit_key
from vigil.access.roles import Role
from vigil.access.users import ensure_admin
from vigil.api.app import create_app
from vigil.api.context import ApiContext
from vigil.registry.regions import import_regions
from vigil.registry.scope import UNRESTRICTED
from vigil.settings import AuthSettings, RetentionSettings
from vigil.sim import SimConfig, Simulator


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def http_server(ctx: ApiContext) -> AsyncIterator[str]:
    """The API on a real loopback socket: streaming (SSE) needs a real server."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_config=None)
    )
    task = asyncio.ensure_future(server.serve())
    await eventually(lambda: server.started, timeout_s=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def api_context(engine: AsyncEngine, tmp_path: Path, **services: Any) -> ApiContext:
    """An ApiContext with default auth and retention settings, the audit key in ``tmp_path``
    and a 1 MiB upload limit; ``services`` (signaling, media, streams, ...) as given."""
    return ApiContext(
        engine=engine,
        auth=AuthSettings(),
        retention=RetentionSettings(),
        audit_key=load_or_create_audit_key(tmp_path),
        max_upload_bytes=1 << 20,
        **services,
    )


async def seed_admin_and_counties(engine: AsyncEngine) -> None:
    """The admin, regions 3402 / 340202 / 340207 and "other-county", a viewer of 340207
    only (the simulated devices sit in 340202)."""
    async with engine.begin() as conn:
        await ensure_admin(conn, "admin", ADMIN_PASSWORD)
        await import_regions(conn, UNRESTRICTED, [("3402", "芜湖市"), ("340202", "镜湖区")])
        await import_regions(conn, UNRESTRICTED, [("340207", "鸠江区")])
    await add_user(engine, "other-county", Role.VIEWER, regions=("340207",))


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    """The Authorization header of a fresh session of ``username``."""
    answer = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


@contextlib.asynccontextmanager
async def simulated_channel(
    base_url: str, config: SimConfig
) -> AsyncIterator[tuple[Simulator, str]]:
    """(simulator, channel ID): the simulator of ``config`` registered and its first device's
    first channel readable through the API at ``base_url``."""
    async with simulating(config) as simulator:
        await simulator.wait_registered(timeout_s=10)
        device = next(iter(simulator.devices.values()))
        channel_id = device.plan.channels[0].channel_id
        async with httpx.AsyncClient(base_url=base_url) as client:
            admin = await sign_in(client, "admin", ADMIN_PASSWORD)

            async def listed() -> bool:
                answer = await client.get(f"/api/v1/channels/{channel_id}", headers=admin)
                return answer.status_code == 200

            await eventually(listed)
        yield simulator, channel_id
