"""Bearer tokens on SQLite and PostgreSQL: issue, resolve, expire, revoke."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.errors import InvalidInputError, UserDisabledError, UserNotFoundError
from vigil.access.roles import Permission, Role
from vigil.access.tokens import (
    issue_token,
    list_user_sessions,
    purge_tokens,
    resolve_token,
    revoke_token,
    revoke_user_tokens,
)
from vigil.access.users import User, create_user, set_password, update_user
from vigil.db.tables import auth_tokens, users

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
HOUR = timedelta(hours=1)


async def _user(engine: AsyncEngine, name: str = "chen.jie", role: Role = Role.VIEWER) -> User:
    async with engine.begin() as conn:
        return await create_user(
            conn, name, "river-lantern-17", role, "陈杰", scope_regions=("340202",), scope_orgs=(4,)
        )


async def test_issue_then_resolve(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        token, expires_at = await issue_token(
            conn, user.id, 3600, T0, source_ip="10.1.2.3", user_agent="Mozilla/5.0 " * 40
        )
    assert expires_at == T0 + HOUR
    assert len(token) == 43  # 32 random bytes, URL-safe base64 without padding
    async with engine.connect() as conn:
        principal = await resolve_token(conn, token, T0 + timedelta(minutes=30))
        stored = (await conn.execute(select(auth_tokens))).mappings().one()
    assert principal is not None
    assert principal.user_id == user.id
    assert principal.username == "chen.jie"
    assert principal.display_name == "陈杰"
    assert principal.role is Role.VIEWER
    assert principal.has(Permission.LIVE_VIEW)
    assert (principal.scope_all, principal.scope_regions, principal.scope_orgs) == (
        False,
        ("340202",),
        (4,),
    )
    assert principal.token_id == stored["id"]
    # Only the SHA-256 is stored: the database alone yields no usable token.
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.values()
    assert stored["source_ip"] == "10.1.2.3"
    assert len(stored["user_agent"]) == 200


async def test_tokens_are_unique(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        tokens = {(await issue_token(conn, user.id, 60, T0)).token for _ in range(20)}
    assert len(tokens) == 20


async def test_unknown_malformed_and_expired_tokens_resolve_to_none(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        token, expires_at = await issue_token(conn, user.id, 60, T0)
    async with engine.connect() as conn:
        assert await resolve_token(conn, token, expires_at - timedelta(microseconds=1))
        assert await resolve_token(conn, token, expires_at) is None
        assert await resolve_token(conn, token, expires_at + HOUR) is None
        assert await resolve_token(conn, token + "x", T0) is None
        assert await resolve_token(conn, "", T0) is None
        assert await resolve_token(conn, "a" * 10_000, T0) is None
        assert await resolve_token(conn, "\ud800", T0) is None


async def test_role_change_applies_to_existing_tokens(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        token, _ = await issue_token(conn, user.id, 3600, T0)
        await update_user(conn, user.id, role=Role.OPERATOR)
        principal = await resolve_token(conn, token, T0)
    assert principal is not None
    assert principal.has(Permission.PTZ_CONTROL)


async def test_disabled_user_tokens_stop_resolving(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        token, _ = await issue_token(conn, user.id, 3600, T0)
        # Disabled behind the API's back: resolve still checks the account every time.
        await conn.execute(users.update().where(users.c.id == user.id).values(disabled=True))
        assert await resolve_token(conn, token, T0) is None
        with pytest.raises(UserDisabledError):
            await issue_token(conn, user.id, 3600, T0)


async def test_issue_checks_its_arguments(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        with pytest.raises(UserNotFoundError):
            await issue_token(conn, 999, 3600, T0)
        with pytest.raises(InvalidInputError):
            await issue_token(conn, user.id, 0, T0)
        with pytest.raises(ValueError, match="timezone"):
            await issue_token(conn, user.id, 60, datetime(2026, 1, 1))


async def test_revoke_one_token(engine: AsyncEngine) -> None:
    alice = await _user(engine, "alice")
    bob = await _user(engine, "bob")
    async with engine.begin() as conn:
        kept, _ = await issue_token(conn, alice.id, 3600, T0)
        gone, _ = await issue_token(conn, alice.id, 3600, T0)
        gone_principal = await resolve_token(conn, gone, T0)
        assert gone_principal is not None
        assert gone_principal.token_id is not None
        gone_id = gone_principal.token_id
        # Someone else's session cannot be revoked through the user_id guard.
        assert await revoke_token(conn, gone_id, T0, user_id=bob.id) is False
        assert await resolve_token(conn, gone, T0) is not None
        assert await revoke_token(conn, gone_id, T0, user_id=alice.id) is True
        assert await revoke_token(conn, gone_id, T0) is False  # already revoked
        assert await resolve_token(conn, gone, T0) is None
        assert await resolve_token(conn, kept, T0) is not None


async def test_revoke_all_of_a_user_but_one(engine: AsyncEngine) -> None:
    alice = await _user(engine, "alice")
    bob = await _user(engine, "bob")
    async with engine.begin() as conn:
        a1, _ = await issue_token(conn, alice.id, 3600, T0)
        a2, _ = await issue_token(conn, alice.id, 3600, T0)
        a3, _ = await issue_token(conn, alice.id, 3600, T0)
        b1, _ = await issue_token(conn, bob.id, 3600, T0)
        current = await resolve_token(conn, a3, T0)
        assert current is not None
        revoked = await revoke_user_tokens(conn, alice.id, T0, except_token_id=current.token_id)
        assert revoked == 2
        assert await resolve_token(conn, a1, T0) is None
        assert await resolve_token(conn, a2, T0) is None
        assert await resolve_token(conn, a3, T0) is not None
        assert await resolve_token(conn, b1, T0) is not None
        assert await revoke_user_tokens(conn, alice.id, T0) == 1


async def test_password_change_revokes_sessions(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        token, _ = await issue_token(conn, user.id, 3600, T0)
        await set_password(conn, user.id, "brand-new-lantern", now=T0)
        assert await resolve_token(conn, token, T0) is None
        fresh, _ = await issue_token(conn, user.id, 3600, T0)
        assert await resolve_token(conn, fresh, T0) is not None


async def test_list_sessions_shows_live_tokens_newest_first(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        await issue_token(conn, user.id, 60, T0, source_ip="10.0.0.1")  # expires first
        await issue_token(conn, user.id, 7200, T0 + timedelta(minutes=1), "10.0.0.2", "Firefox")
        revoked, _ = await issue_token(conn, user.id, 7200, T0 + timedelta(minutes=2))
        await issue_token(conn, user.id, 7200, T0 + timedelta(minutes=3), "10.0.0.4", "Chrome")
        principal = await resolve_token(conn, revoked, T0 + timedelta(minutes=2))
        assert principal is not None
        assert principal.token_id is not None
        await revoke_token(conn, principal.token_id, T0 + timedelta(minutes=2))
        sessions = await list_user_sessions(conn, user.id, T0 + timedelta(minutes=5))
    assert [(s.source_ip, s.user_agent) for s in sessions] == [
        ("10.0.0.4", "Chrome"),
        ("10.0.0.2", "Firefox"),
    ]
    assert sessions[0].expires_at == T0 + timedelta(minutes=3) + 2 * HOUR
    assert all(s.user_id == user.id for s in sessions)


async def test_purge_removes_only_long_dead_tokens(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        await issue_token(conn, user.id, 60, T0)  # expired long ago
        live, _ = await issue_token(conn, user.id, 30 * 24 * 3600, T0)
        revoked, _ = await issue_token(conn, user.id, 30 * 24 * 3600, T0)
        principal = await resolve_token(conn, revoked, T0)
        assert principal is not None
        assert principal.token_id is not None
        await revoke_token(conn, principal.token_id, T0 + HOUR)
        assert await purge_tokens(conn, T0 + timedelta(days=7)) == 2
        assert await resolve_token(conn, live, T0 + timedelta(days=7)) is not None
        remaining = (await conn.execute(select(auth_tokens.c.id))).scalars().all()
    assert len(remaining) == 1
