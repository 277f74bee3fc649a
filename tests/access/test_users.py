"""Accounts on SQLite and PostgreSQL: validation, duplicates, updates, passwords, first admin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.errors import (
    InvalidInputError,
    LastAdminError,
    UserExistsError,
    UserNotFoundError,
    WeakPasswordError,
)
from vigil.access.passwords import verify_password
from vigil.access.roles import Role
from vigil.access.tokens import issue_token, resolve_token
from vigil.access.users import (
    count_users,
    create_user,
    ensure_admin,
    get_user,
    get_user_by_name,
    list_users,
    set_password,
    update_user,
)
from vigil.db.tables import users

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
PASSWORD = "river-lantern-17"


async def test_create_and_read_back(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        created = await create_user(
            conn,
            "Zhang.Wei@jh",
            PASSWORD,
            Role.OPERATOR,
            display_name="  张伟 ",
            scope_regions=("340202", "3402", "340202"),
            scope_orgs=(3, 1, 3),
            now=T0,
        )
    assert created.username == "zhang.wei@jh"  # folded, so case cannot make a second account
    assert created.display_name == "张伟"
    assert created.role is Role.OPERATOR
    assert created.scope_all is False
    assert created.scope_regions == ("340202", "3402")
    assert created.scope_orgs == (3, 1)
    assert created.disabled is False
    assert created.created_at == T0
    assert created.password_changed_at == T0
    assert not hasattr(created, "password_hash")

    async with engine.connect() as conn:
        by_id = await get_user(conn, created.id)
        by_name = await get_user_by_name(conn, "ZHANG.WEI@JH")
        stored_hash = (
            await conn.execute(select(users.c.password_hash).where(users.c.id == created.id))
        ).scalar_one()
    assert by_id == created
    assert by_name == created
    assert stored_hash.startswith("$argon2id$")
    assert verify_password(stored_hash, PASSWORD)

    principal = created.principal(token_id=5)
    assert (principal.user_id, principal.username, principal.role) == (
        created.id,
        "zhang.wei@jh",
        Role.OPERATOR,
    )
    assert principal.scope_regions == ("340202", "3402")
    assert principal.token_id == 5


async def test_role_given_as_text_is_accepted(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        user = await create_user(conn, "auditor1", PASSWORD, "auditor")
    assert user.role is Role.AUDITOR


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"username": ""}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "x" * 65}, "username"),
        ({"username": "名字"}, "username"),
        ({"username": "bob\n"}, "username"),
        ({"role": "superuser"}, "unknown role"),
        ({"scope_regions": ("340",)}, "region"),
        ({"scope_regions": ("34020212345",)}, "region"),
        ({"scope_regions": ("34ab",)}, "region"),
        ({"scope_regions": ("３４０２",)}, "region"),  # full-width digits are not a code
        ({"scope_orgs": (0,)}, "organisation"),
        ({"scope_orgs": (True,)}, "organisation"),
        ({"display_name": "名" * 101}, "display name"),
    ],
)
async def test_invalid_input_is_refused(
    engine: AsyncEngine, kwargs: dict[str, object], fragment: str
) -> None:
    arguments: dict[str, object] = {"username": "bob", "password": PASSWORD, "role": Role.VIEWER}
    arguments.update(kwargs)
    async with engine.begin() as conn:
        with pytest.raises(InvalidInputError, match=fragment):
            await create_user(conn, **arguments)  # type: ignore[arg-type]
        assert await count_users(conn) == 0


async def test_weak_password_is_refused(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        with pytest.raises(WeakPasswordError, match="username"):
            await create_user(conn, "Operator7", "operator7", Role.OPERATOR)
        with pytest.raises(WeakPasswordError, match="8 characters"):
            await create_user(conn, "operator7", "abc", Role.OPERATOR)


async def test_duplicate_username_differs_only_in_case(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_user(conn, "wang.fang", PASSWORD, Role.VIEWER)
    async with engine.begin() as conn:
        with pytest.raises(UserExistsError):
            await create_user(conn, "Wang.Fang", PASSWORD, Role.ADMIN)
        # The transaction is still usable after the refusal.
        await create_user(conn, "li.qiang", PASSWORD, Role.VIEWER)
    async with engine.connect() as conn:
        assert [u.username for u in await list_users(conn)] == ["li.qiang", "wang.fang"]


async def test_lookups_of_unknown_or_invalid_names(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await get_user(conn, 999) is None
        assert await get_user_by_name(conn, "nobody") is None
        assert await get_user_by_name(conn, "' OR 1=1 --") is None
        assert await get_user_by_name(conn, "") is None


async def test_list_users_filters(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await create_user(conn, "c-viewer", PASSWORD, Role.VIEWER)
        b = await create_user(conn, "b-viewer", PASSWORD, Role.VIEWER)
        await create_user(conn, "a-admin", PASSWORD, Role.ADMIN)
        await update_user(conn, b.id, disabled=True)
    async with engine.connect() as conn:
        assert [u.username for u in await list_users(conn)] == ["a-admin", "b-viewer", "c-viewer"]
        viewers = await list_users(conn, role=Role.VIEWER, include_disabled=False)
        assert [u.username for u in viewers] == ["c-viewer"]
        page = await list_users(conn, offset=1, limit=1)
        assert [u.username for u in page] == ["b-viewer"]


async def test_update_user_changes_only_given_fields(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        user = await create_user(conn, "zhao.lei", PASSWORD, Role.VIEWER, "Zhao", now=T0)
        later = T0 + timedelta(hours=1)
        updated = await update_user(
            conn, user.id, role="operator", scope_regions=["3402"], scope_orgs=[9], now=later
        )
    assert updated.role is Role.OPERATOR
    assert updated.scope_regions == ("3402",)
    assert updated.scope_orgs == (9,)
    assert updated.display_name == "Zhao"
    assert updated.scope_all is False
    assert updated.updated_at == later
    assert updated.created_at == T0

    async with engine.begin() as conn:
        again = await update_user(conn, user.id, display_name="赵磊", scope_all=True)
        unchanged = await update_user(conn, user.id)
        with pytest.raises(InvalidInputError):
            await update_user(conn, user.id, role="root")
        with pytest.raises(InvalidInputError):
            await update_user(conn, user.id, scope_regions=["3"])
        with pytest.raises(UserNotFoundError):
            await update_user(conn, 12345, display_name="x")
    assert (again.display_name, again.scope_all, again.role) == ("赵磊", True, Role.OPERATOR)
    assert unchanged == again


async def test_last_enabled_admin_cannot_be_demoted_or_disabled(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        first = await create_user(conn, "root-admin", PASSWORD, Role.ADMIN)
        with pytest.raises(LastAdminError):
            await update_user(conn, first.id, role=Role.OPERATOR)
        with pytest.raises(LastAdminError):
            await update_user(conn, first.id, disabled=True)
        second = await create_user(conn, "deputy-admin", PASSWORD, Role.ADMIN)
        # With a second enabled admin the first may step down; then the second is the last.
        demoted = await update_user(conn, first.id, role=Role.VIEWER)
        assert demoted.role is Role.VIEWER
        with pytest.raises(LastAdminError):
            await update_user(conn, second.id, disabled=True)
        # Renaming the last admin is not a demotion.
        renamed = await update_user(conn, second.id, display_name="Deputy")
        assert renamed.display_name == "Deputy"


async def test_disabling_revokes_tokens_and_re_enabling_does_not_restore_them(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        user = await create_user(conn, "sun.li", PASSWORD, Role.VIEWER)
        token, _ = await issue_token(conn, user.id, 3600, T0)
        await update_user(conn, user.id, disabled=True, now=T0)
        assert await resolve_token(conn, token, T0) is None
        await update_user(conn, user.id, disabled=False, now=T0)
        assert await resolve_token(conn, token, T0) is None


async def test_set_password_revokes_every_token_and_clears_lockout(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        user = await create_user(conn, "qian.yu", PASSWORD, Role.VIEWER, now=T0)
        first, _ = await issue_token(conn, user.id, 3600, T0)
        second, _ = await issue_token(conn, user.id, 3600, T0)
        await conn.execute(
            users.update()
            .where(users.c.id == user.id)
            .values(failed_logins=3, first_failure_at=T0, locked_until=T0 + timedelta(hours=1))
        )
    changed_at = T0 + timedelta(minutes=5)
    async with engine.begin() as conn:
        revoked = await set_password(conn, user.id, "new-lantern-18", now=changed_at)
        assert revoked == 2
        assert await resolve_token(conn, first, changed_at) is None
        assert await resolve_token(conn, second, changed_at) is None
        row = (await conn.execute(select(users).where(users.c.id == user.id))).mappings().one()
    assert verify_password(row["password_hash"], "new-lantern-18")
    assert not verify_password(row["password_hash"], PASSWORD)
    assert row["password_changed_at"] == changed_at
    assert (row["failed_logins"], row["first_failure_at"], row["locked_until"]) == (0, None, None)


async def test_set_password_checks_policy_and_existence(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        user = await create_user(conn, "zhou.min", PASSWORD, Role.VIEWER)
        with pytest.raises(WeakPasswordError):
            await set_password(conn, user.id, "zhou.min")
        with pytest.raises(UserNotFoundError):
            await set_password(conn, 999, "new-lantern-18")


async def test_ensure_admin_creates_only_the_first_time(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        assert await ensure_admin(conn, "admin", "admin-secret-42", now=T0) is True
    async with engine.begin() as conn:
        assert await ensure_admin(conn, "admin", "another-secret-43") is False
        assert await ensure_admin(conn, "chief", "another-secret-43") is False
        admin = await get_user_by_name(conn, "admin")
        assert await get_user_by_name(conn, "chief") is None
        stored = (
            await conn.execute(select(users.c.password_hash).where(users.c.username == "admin"))
        ).scalar_one()
    assert admin is not None
    assert admin.role is Role.ADMIN
    assert admin.scope_all is True
    assert verify_password(stored, "admin-secret-42")


async def test_ensure_admin_refuses_a_weak_password(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        with pytest.raises(WeakPasswordError):
            await ensure_admin(conn, "admin", "admin")
        assert await count_users(conn) == 0
