"""The ``vigil`` command line: serve, demo, db, user, ledger, region, audit, verify, version.

Settings are read once here and handed down; every command that changes data writes an
audit record with actor ``cli:<os user>``. The platform commands live here; accounts
(``user_commands``), the ledger and regions (``ledger_commands``) and the audit chain and
exports (``verify_commands``) in their own modules.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

import vigil
from vigil import app as platform
from vigil.access.errors import AccessError
from vigil.cli.context import settings_of, with_engine
from vigil.cli.ledger_commands import ledger, region
from vigil.cli.user_commands import user
from vigil.cli.verify_commands import audit_group, verify_export_command
from vigil.db.errors import DatabaseError
from vigil.db.migrate import upgrade
from vigil.demo import DEMO_KEEPALIVE_S, demo_simulators, seed_demo_ledger
from vigil.logs import setup_logging
from vigil.registry.errors import RegistryError
from vigil.settings import Settings, load_settings
from vigil.sim.main import main as run_sim


@click.group()
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="VIGIL_CONFIG",
    help="TOML settings file; VIGIL_* environment variables override it.",
)
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Vigil: networked public-safety video platform."""
    settings = load_settings(config)
    setup_logging(settings.log.level, json_format=settings.log.json_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ctx.obj = settings


def _print_ready(url: str, admin: platform.AdminBootstrap) -> None:
    click.echo(f"Vigil is running at {url}")
    if admin.password is not None:
        click.echo(f"First admin account: {admin.username} / {admin.password}")
    else:
        click.echo(f"Log in as {admin.username} (password set earlier; `vigil user passwd`).")


def _run_platform(settings: Settings, components: list[platform.Component] | None = None) -> None:
    """Run until SIGINT/SIGTERM; a bad setting (a weak admin password, an unreachable
    database) ends with its message instead of a traceback."""
    try:
        asyncio.run(platform.run(settings, extra_components=components, on_ready=_print_ready))
    except (AccessError, RegistryError, DatabaseError) as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.pass_context
def serve(ctx: click.Context) -> None:
    """Run the platform until SIGINT/SIGTERM."""
    _run_platform(settings_of(ctx))


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the platform with a populated demo ledger of two counties."""
    settings = settings_of(ctx)
    if "VIGIL_SIP__KEEPALIVE_INTERVAL_S" not in os.environ:
        # Simulated devices keep alive every few seconds so offline shows without a wait.
        settings.sip.keepalive_interval_s = DEMO_KEEPALIVE_S
    seeded = with_engine(settings, lambda engine: seed_demo_ledger(engine, settings))
    if seeded:
        click.echo(f"Demo ledger created: {seeded} collection points in two counties.")
    asyncio.run(
        platform.run(settings, extra_components=demo_simulators(settings), on_ready=_print_ready)
    )


@main.command(
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.pass_context
def sim(ctx: click.Context) -> None:
    """Simulated GB/T 28181 devices: --platform HOST:PORT --devices N --channels M ...

    Run ``vigil sim --help`` for every option.
    """
    sys.exit(run_sim(ctx.args))


@main.command()
def version() -> None:
    """Print the version."""
    click.echo(vigil.__version__)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply every pending migration."""
    settings = settings_of(ctx)
    try:
        asyncio.run(upgrade(settings.database_url))
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("database is up to date")


main.add_command(user)
main.add_command(ledger)
main.add_command(region)
main.add_command(audit_group)
main.add_command(verify_export_command)
