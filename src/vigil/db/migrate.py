"""Bring a database's schema up to date with Alembic (``vigil db upgrade``)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from vigil.db.engine import create_engine
from vigil.db.errors import MigrationError, UnreachableError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade_sync(url: str, revision: str) -> None:
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    """Apply every pending migration. Alembic drives its own event loop, so run it in a thread."""
    engine = create_engine(url)
    try:
        async with engine.connect():
            pass
    except (OSError, OperationalError) as exc:
        raise UnreachableError(f"database unreachable: {exc}") from exc
    finally:
        await engine.dispose()
    try:
        await asyncio.to_thread(_upgrade_sync, url, revision)
    except SQLAlchemyError as exc:
        raise MigrationError(f"migration failed: {exc}") from exc
