"""The ``vigil`` command line: serve, demo, db, user, ledger, region, audit, verify, version.

Settings are read once here and handed down; every command that changes data writes an
audit record with actor ``cli:<os user>``.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

import vigil
from vigil import app as platform
from vigil.access import audit, users
from vigil.access.audit_key import load_or_create_audit_key
from vigil.access.errors import AccessError
from vigil.access.roles import Role
from vigil.db.engine import create_engine
from vigil.db.errors import DatabaseError
from vigil.db.migrate import upgrade
from vigil.demo import DEMO_KEEPALIVE_S, demo_simulators, seed_demo_ledger
from vigil.logs import setup_logging
from vigil.recording.errors import SigningKeyError
from vigil.recording.export_manifest import verify_export
from vigil.recording.platform_key import load_public_key, public_key_path
from vigil.registry.errors import RegistryError
from vigil.registry.ledger_export import LedgerLanguage, export_ledger
from vigil.registry.ledger_import import ImportReport, import_ledger
from vigil.registry.ledger_reader import LedgerFormat
from vigil.registry.regions import RegionImportReport, import_regions
from vigil.registry.scope import UNRESTRICTED
from vigil.settings import Settings, load_settings
from vigil.sim.main import main as run_sim

T = TypeVar("T")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _settings(ctx: click.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
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


def _read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if first != getpass.getpass("Repeat: "):
            raise click.ClickException("the passwords differ")
        return first
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise click.ClickException("no password on standard input")
    return line


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
    _run_platform(_settings(ctx))


@main.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Run the platform with a populated demo ledger of two counties."""
    settings = _settings(ctx)
    if "VIGIL_SIP__KEEPALIVE_INTERVAL_S" not in os.environ:
        # Simulated devices keep alive every few seconds so offline shows without a wait.
        settings.sip.keepalive_interval_s = DEMO_KEEPALIVE_S
    seeded = _with_engine(settings, lambda engine: seed_demo_ledger(engine, settings))
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
    settings = _settings(ctx)
    try:
        asyncio.run(upgrade(settings.database_url))
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("database is up to date")


@main.group()
def user() -> None:
    """Accounts (passwords are read from standard input)."""


@user.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--display-name", default="")
@click.option("--region", "regions", multiple=True, help="Region-code prefix in scope.")
@click.option("--org", "orgs", multiple=True, type=int, help="Organisation id in scope.")
@click.option("--all-scope", is_flag=True, help="See every region and organisation.")
@click.pass_context
def user_add(
    ctx: click.Context,
    name: str,
    role: str,
    display_name: str,
    regions: tuple[str, ...],
    orgs: tuple[int, ...],
    all_scope: bool,
) -> None:
    """Create an account."""
    settings = _settings(ctx)
    password = _read_new_password()
    key = load_or_create_audit_key(settings.data_dir)

    async def work(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            await users.create_user(
                conn,
                name,
                password,
                Role(role),
                display_name=display_name,
                scope_all=all_scope or Role(role) is Role.ADMIN,
                scope_regions=regions,
                scope_orgs=orgs,
            )
            await audit.append(
                conn,
                key,
                at=datetime.now(UTC),
                actor=_actor(),
                action="user.create",
                target=name,
                detail={"role": role, "regions": list(regions), "orgs": list(orgs)},
            )

    _with_engine(settings, work)
    click.echo(f"user {name} created with role {role}")


@user.command("passwd")
@click.argument("name")
@click.pass_context
def user_passwd(ctx: click.Context, name: str) -> None:
    """Set an account's password (revokes its sessions)."""
    settings = _settings(ctx)
    password = _read_new_password()
    key = load_or_create_audit_key(settings.data_dir)

    async def work(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            found = await users.get_user_by_name(conn, name)
            if found is None:
                raise click.ClickException(f"no user {name}")
            await users.set_password(conn, found.id, password)
            await audit.append(
                conn, key, at=datetime.now(UTC), actor=_actor(), action="user.password", target=name
            )

    _with_engine(settings, work)
    click.echo(f"password of {name} changed; its sessions were revoked")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List accounts."""

    async def work(engine: AsyncEngine) -> list[users.User]:
        async with engine.connect() as conn:
            return await users.list_users(conn)

    for item in _with_engine(_settings(ctx), work):
        scope = (
            "all"
            if item.scope_all
            else ",".join([*item.scope_regions, *(f"org:{o}" for o in item.scope_orgs)])
        )
        state = " (disabled)" if item.disabled else ""
        click.echo(f"{item.username}\t{item.role}\t{scope or '-'}{state}")


@main.group()
def ledger() -> None:
    """The ledger (台账) of collection points: XLSX or CSV, Chinese or English headers."""


@ledger.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
@click.pass_context
def ledger_import(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Import a ledger file: every row is validated, then all are applied or none."""
    settings = _settings(ctx)
    key = load_or_create_audit_key(settings.data_dir)
    data = file.read_bytes()

    async def work(engine: AsyncEngine) -> ImportReport:
        async with engine.begin() as conn:
            report = await import_ledger(
                conn, UNRESTRICTED, data, retention=settings.retention, dry_run=dry_run
            )
            if not report.errors and not dry_run:
                await audit.append(
                    conn,
                    key,
                    at=datetime.now(UTC),
                    actor=_actor(),
                    action="ledger.import",
                    target=file.name,
                    detail=report.summary(),
                )
            return report

    report = _with_engine(settings, work)
    if report.errors:
        for error in report.errors:
            click.echo(f"row {error.row}, column {error.column}: {error.reason}", err=True)
        raise click.ClickException(f"{len(report.errors)} errors; nothing was imported")
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb}: {report.summary()}")


@ledger.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh")
@click.pass_context
def ledger_export(ctx: click.Context, file: Path, lang: str) -> None:
    """Export every collection point; the format follows the file extension (.xlsx or .csv)."""
    settings = _settings(ctx)
    fmt: LedgerFormat = "xlsx" if file.suffix.lower() == ".xlsx" else "csv"
    language: LedgerLanguage = "en" if lang == "en" else "zh"

    async def work(engine: AsyncEngine) -> bytes:
        async with engine.connect() as conn:
            return await export_ledger(conn, UNRESTRICTED, fmt=fmt, lang=language)

    file.write_bytes(_with_engine(settings, work))
    click.echo(f"exported to {file}")


@main.group()
def region() -> None:
    """Administrative regions (GB/T 2260)."""


@region.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def region_import(ctx: click.Context, file: Path) -> None:
    """Import regions from a CSV of ``code,name`` rows (codes of 2, 4, 6 or 8 digits)."""
    settings = _settings(ctx)
    rows = []
    for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), start=1):
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2 or not parts[0].isdigit():
            if number == 1:
                continue  # a header row
            raise click.ClickException(f"line {number}: expected code,name")
        rows.append((parts[0], parts[1]))

    async def work(engine: AsyncEngine) -> RegionImportReport:
        async with engine.begin() as conn:
            return await import_regions(conn, UNRESTRICTED, rows)

    report = _with_engine(settings, work)
    click.echo(
        f"regions: {report.created} created, {report.updated} renamed, {report.unchanged} unchanged"
    )


@main.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check every audit record; exit status 1 if any was edited, inserted or deleted."""
    settings = _settings(ctx)
    key = load_or_create_audit_key(settings.data_dir)

    async def work(engine: AsyncEngine) -> audit.AuditVerifyReport:
        async with engine.connect() as conn:
            return await audit.verify(conn, key)

    report = _with_engine(settings, work)
    for problem in report.problems:
        click.echo(f"record {problem.id}: {problem.kind}: {problem.message}")
    if not report.ok:
        click.echo(
            f"audit chain BROKEN: {len(report.problems)} problems in {report.checked} records"
        )
        sys.exit(1)
    click.echo(f"audit chain intact: {report.checked} records verified")


@main.command("verify")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM Ed25519 public key (default: the platform's, under the data directory).",
)
@click.pass_context
def verify_export_command(ctx: click.Context, export: Path, public_key_file: Path | None) -> None:
    """Check an export (its MP4 or manifest): signature and MP4 hash; exit 1 if invalid."""
    if public_key_file is None:
        public_key_file = public_key_path(_settings(ctx).data_dir)
        if not public_key_file.is_file():
            raise click.UsageError(f"no platform public key at {public_key_file}; use --public-key")
    try:
        key = load_public_key(public_key_file.read_bytes())
    except SigningKeyError as exc:
        raise click.UsageError(f"{public_key_file}: {exc}") from None
    verdict = verify_export(export, key)
    for line in verdict.describe():
        click.echo(line)
    sys.exit(0 if verdict.valid else 1)
