"""Bearer tokens: issue, resolve to a Principal, revoke, list a user's sessions.

A token is 32 random bytes (URL-safe base64, 43 characters). Only its SHA-256 is stored:
tokens have full entropy, so a fast hash is enough, and a copy of the database yields no
usable token. Every resolve re-reads the user, so a role change, a disabled account or a
revoked token takes effect on the very next request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.errors import InvalidInputError, UserDisabledError, UserNotFoundError
from vigil.access.principal import Principal
from vigil.access.roles import Role
from vigil.db.tables import auth_tokens, users

TOKEN_BYTES = 32
# Anything longer is not one of ours; refuse before hashing attacker-sized input.
MAX_TOKEN_CHARS = 256
MAX_USER_AGENT_CHARS = 200
MAX_SOURCE_IP_CHARS = 64


class IssuedToken(NamedTuple):
    """The plaintext token (shown once, never stored) and when it stops working."""

    token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Session:
    """A live token of a user, as listed to its owner or an admin (never the token itself)."""

    id: int
    user_id: int
    created_at: datetime
    expires_at: datetime
    source_ip: str
    user_agent: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")


async def issue_token(
    conn: AsyncConnection,
    user_id: int,
    ttl_s: float,
    now: datetime,
    source_ip: str = "",
    user_agent: str = "",
) -> IssuedToken:
    """Create a token for an enabled user, valid for ``ttl_s`` seconds from ``now``."""
    _require_aware(now)
    if ttl_s <= 0:
        raise InvalidInputError("a token's lifetime must be positive")
    result = await conn.execute(select(users.c.disabled).where(users.c.id == user_id))
    disabled = result.scalar_one_or_none()
    if disabled is None:
        raise UserNotFoundError(f"no user with id {user_id}")
    if disabled:
        raise UserDisabledError(f"user {user_id} is disabled")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires_at = now + timedelta(seconds=ttl_s)
    await conn.execute(
        insert(auth_tokens).values(
            token_hash=token_hash(token),
            user_id=user_id,
            created_at=now,
            expires_at=expires_at,
            source_ip=source_ip[:MAX_SOURCE_IP_CHARS],
            user_agent=user_agent[:MAX_USER_AGENT_CHARS],
        )
    )
    return IssuedToken(token, expires_at)


async def resolve_token(conn: AsyncConnection, token: str, now: datetime) -> Principal | None:
    """The Principal behind ``token``; None if unknown, expired, revoked or the user disabled."""
    _require_aware(now)
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    result = await conn.execute(
        select(
            auth_tokens.c.id.label("token_id"),
            users.c.id,
            users.c.username,
            users.c.display_name,
            users.c.role,
            users.c.scope_all,
            users.c.scope_regions,
            users.c.scope_orgs,
        )
        .join(users, users.c.id == auth_tokens.c.user_id)
        .where(
            auth_tokens.c.token_hash == token_hash(token),
            auth_tokens.c.revoked_at.is_(None),
            auth_tokens.c.expires_at > now,
            users.c.disabled.is_(False),
        )
    )
    row = result.mappings().one_or_none()
    if row is None:
        return None
    return Principal(
        user_id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        scope_all=bool(row["scope_all"]),
        scope_regions=tuple(str(r) for r in row["scope_regions"] or ()),
        scope_orgs=tuple(int(o) for o in row["scope_orgs"] or ()),
        token_id=row["token_id"],
    )


async def revoke_token(
    conn: AsyncConnection, token_id: int, now: datetime, *, user_id: int | None = None
) -> bool:
    """Revoke one token; with ``user_id``, only if it belongs to that user.

    Returns whether a token that was still unrevoked got revoked.
    """
    _require_aware(now)
    query = (
        update(auth_tokens)
        .where(auth_tokens.c.id == token_id, auth_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if user_id is not None:
        query = query.where(auth_tokens.c.user_id == user_id)
    result = await conn.execute(query)
    return result.rowcount > 0


async def revoke_user_tokens(
    conn: AsyncConnection, user_id: int, now: datetime, *, except_token_id: int | None = None
) -> int:
    """Revoke every unrevoked token of the user (but ``except_token_id``); returns how many."""
    _require_aware(now)
    query = (
        update(auth_tokens)
        .where(
            auth_tokens.c.user_id == user_id,
            auth_tokens.c.revoked_at.is_(None),
            auth_tokens.c.expires_at > now,
        )
        .values(revoked_at=now)
    )
    if except_token_id is not None:
        query = query.where(auth_tokens.c.id != except_token_id)
    result = await conn.execute(query)
    return result.rowcount


async def list_user_sessions(conn: AsyncConnection, user_id: int, now: datetime) -> list[Session]:
    """The user's live (unrevoked, unexpired) tokens, newest first."""
    _require_aware(now)
    result = await conn.execute(
        select(
            auth_tokens.c.id,
            auth_tokens.c.user_id,
            auth_tokens.c.created_at,
            auth_tokens.c.expires_at,
            auth_tokens.c.source_ip,
            auth_tokens.c.user_agent,
        )
        .where(
            auth_tokens.c.user_id == user_id,
            auth_tokens.c.revoked_at.is_(None),
            auth_tokens.c.expires_at > now,
        )
        .order_by(auth_tokens.c.created_at.desc(), auth_tokens.c.id.desc())
    )
    return [Session(**row) for row in result.mappings()]


async def purge_tokens(conn: AsyncConnection, before: datetime) -> int:
    """Delete tokens that expired or were revoked before ``before``; returns how many.

    Dead tokens are kept for a while so the sessions of an incident can still be examined;
    housekeeping calls this with a cut-off some days back.
    """
    _require_aware(before)
    result = await conn.execute(
        delete(auth_tokens).where(
            or_(auth_tokens.c.expires_at < before, auth_tokens.c.revoked_at < before)
        )
    )
    return result.rowcount
