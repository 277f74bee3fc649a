"""``vigil audit verify`` (the hash chain) and ``vigil verify EXPORT`` (a signed export)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access import audit
from vigil.access.audit_key import load_or_create_audit_key
from vigil.cli.context import settings_of, with_engine
from vigil.recording.errors import SigningKeyError
from vigil.recording.export_manifest import verify_export
from vigil.recording.platform_key import load_public_key, public_key_path


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.pass_context
def audit_verify(ctx: click.Context) -> None:
    """Check every audit record; exit status 1 if any was edited, inserted or deleted."""
    settings = settings_of(ctx)
    key = load_or_create_audit_key(settings.data_dir)

    async def work(engine: AsyncEngine) -> audit.AuditVerifyReport:
        async with engine.connect() as conn:
            return await audit.verify(conn, key)

    report = with_engine(settings, work)
    for problem in report.problems:
        click.echo(f"record {problem.id}: {problem.kind}: {problem.message}")
    if not report.ok:
        click.echo(
            f"audit chain BROKEN: {len(report.problems)} problems in {report.checked} records"
        )
        sys.exit(1)
    click.echo(f"audit chain intact: {report.checked} records verified")


@click.command("verify")
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
        public_key_file = public_key_path(settings_of(ctx).data_dir)
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
