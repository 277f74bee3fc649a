"""``vigil user``: add, passwd, list (passwords from the terminal or standard input)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access import audit, users
from vigil.access.audit_key import load_or_create_audit_key
from vigil.access.roles import Role
from vigil.cli.context import cli_actor, read_new_password, settings_of, with_engine


@click.group()
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
    settings = settings_of(ctx)
    password = read_new_password()
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
                actor=cli_actor(),
                action="user.create",
                target=name,
                detail={"role": role, "regions": list(regions), "orgs": list(orgs)},
            )

    with_engine(settings, work)
    click.echo(f"user {name} created with role {role}")


@user.command("passwd")
@click.argument("name")
@click.pass_context
def user_passwd(ctx: click.Context, name: str) -> None:
    """Set an account's password (revokes its sessions)."""
    settings = settings_of(ctx)
    password = read_new_password()
    key = load_or_create_audit_key(settings.data_dir)

    async def work(engine: AsyncEngine) -> None:
        async with engine.begin() as conn:
            found = await users.get_user_by_name(conn, name)
            if found is None:
                raise click.ClickException(f"no user {name}")
            await users.set_password(conn, found.id, password)
            await audit.append(
                conn,
                key,
                at=datetime.now(UTC),
                actor=cli_actor(),
                action="user.password",
                target=name,
            )

    with_engine(settings, work)
    click.echo(f"password of {name} changed; its sessions were revoked")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """List accounts."""

    async def work(engine: AsyncEngine) -> list[users.User]:
        async with engine.connect() as conn:
            return await users.list_users(conn)

    for item in with_engine(settings_of(ctx), work):
        scope = (
            "all"
            if item.scope_all
            else ",".join([*item.scope_regions, *(f"org:{o}" for o in item.scope_orgs)])
        )
        state = " (disabled)" if item.disabled else ""
        click.echo(f"{item.username}\t{item.role}\t{scope or '-'}{state}")
