"""Shared fixtures: fresh migrated databases on SQLite and on PostgreSQL.

PostgreSQL runs on 127.0.0.1 here and in CI. With CI=true an unreachable server fails the
tests that need it instead of skipping them, so a broken database never passes silently.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade

T = TypeVar("T")

PG_ADMIN_DSN = os.environ.get("VIGIL_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
PG_TEMPLATE = f"vigil_tpl_{os.getpid()}"


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{database}"


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous fixture code.

    A fresh thread owns the loop, so this works whether or not the calling thread already
    runs an event loop (an async test or fixture may trigger a lazy sync fixture).
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    run_blocking(upgrade(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    try:
        run_blocking(_pg_admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}"))
        run_blocking(_pg_admin(f"CREATE DATABASE {PG_TEMPLATE}"))
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI and is unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    run_blocking(upgrade(_pg_url(PG_TEMPLATE)))
    yield PG_TEMPLATE
    run_blocking(_pg_admin(f"DROP DATABASE IF EXISTS {PG_TEMPLATE}"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a fresh, fully migrated database: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "vigil.db"
        shutil.copyfile(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("pg_template")
    name = f"vigil_t_{uuid.uuid4().hex[:12]}"
    run_blocking(_pg_admin(f"CREATE DATABASE {name} TEMPLATE {template_name}"))
    yield _pg_url(name)
    run_blocking(_pg_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_engine(db_url)
    yield eng
    await eng.dispose()
