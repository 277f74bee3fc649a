"""What every ``vigil`` command shares: the settings read once, a database engine per
command, the audit actor, and a new password read from the terminal or standard input."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.errors import AccessError
from vigil.db.engine import create_engine
from vigil.db.errors import DatabaseError
from vigil.db.migrate import upgrade
from vigil.registry.errors import RegistryError
from vigil.settings import Settings

T = TypeVar("T")


def cli_actor() -> str:
    """The audit actor of a command: ``cli:<os user>``."""
    return f"cli:{getpass.getuser()}"


def settings_of(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def run() -> T:
        if settings.database.auto_upgrade:
            await upgrade(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (AccessError, RegistryError, DatabaseError) as exc:
        raise click.ClickException(str(exc)) from exc


def read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat: "):
            raise click.ClickException("the passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.ClickException("no password on standard input")
    return line
