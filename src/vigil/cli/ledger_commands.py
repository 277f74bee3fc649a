"""``vigil ledger import/export`` and ``vigil region import``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access import audit
from vigil.access.audit_key import load_or_create_audit_key
from vigil.cli.context import cli_actor, settings_of, with_engine
from vigil.registry.ledger_export import LedgerLanguage, export_ledger
from vigil.registry.ledger_import import ImportReport, import_ledger
from vigil.registry.ledger_reader import LedgerFormat
from vigil.registry.regions import RegionImportReport, import_regions
from vigil.registry.scope import UNRESTRICTED


@click.group()
def ledger() -> None:
    """The ledger (台账) of collection points: XLSX or CSV, Chinese or English headers."""


@ledger.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate only; change nothing.")
@click.pass_context
def ledger_import(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Import a ledger file: every row is validated, then all are applied or none."""
    settings = settings_of(ctx)
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
                    actor=cli_actor(),
                    action="ledger.import",
                    target=file.name,
                    detail=report.summary(),
                )
            return report

    report = with_engine(settings, work)
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
    settings = settings_of(ctx)
    fmt: LedgerFormat = "xlsx" if file.suffix.lower() == ".xlsx" else "csv"
    language: LedgerLanguage = "en" if lang == "en" else "zh"

    async def work(engine: AsyncEngine) -> bytes:
        async with engine.connect() as conn:
            return await export_ledger(conn, UNRESTRICTED, fmt=fmt, lang=language)

    file.write_bytes(with_engine(settings, work))
    click.echo(f"exported to {file}")


@click.group()
def region() -> None:
    """Administrative regions (GB/T 2260)."""


@region.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def region_import(ctx: click.Context, file: Path) -> None:
    """Import regions from a CSV of ``code,name`` rows (codes of 2, 4, 6 or 8 digits)."""
    settings = settings_of(ctx)
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

    report = with_engine(settings, work)
    click.echo(
        f"regions: {report.created} created, {report.updated} renamed, {report.unchanged} unchanged"
    )
