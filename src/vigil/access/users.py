"""User accounts: creation with validation, lookup, updates, passwords, the first admin.

Usernames are stored folded to lower case and looked up the same way, so "Admin" and
"admin" can never be two different people in the audit log; ``display_name`` keeps any
capitalisation the person likes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.errors import (
    InvalidInputError,
    LastAdminError,
    UserExistsError,
    UserNotFoundError,
)
from vigil.access.passwords import check_password_policy, hash_password_async
from vigil.access.principal import Principal
from vigil.access.roles import Role
from vigil.access.tokens import revoke_user_tokens
from vigil.db.tables import users

_USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# GB/T 2260 significant forms: province, city, county, station (grass-roots unit).
_REGION_PREFIX_LENGTHS = (2, 4, 6, 8)
MAX_DISPLAY_NAME_CHARS = 100
MAX_SCOPE_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class User:
    """An account as stored, without its password hash."""

    id: int
    username: str
    display_name: str
    role: Role
    scope_all: bool
    scope_regions: tuple[str, ...]
    scope_orgs: tuple[int, ...]
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    password_changed_at: datetime
    created_at: datetime
    updated_at: datetime

    def principal(self, token_id: int | None = None) -> Principal:
        return Principal(
            user_id=self.id,
            username=self.username,
            display_name=self.display_name,
            role=self.role,
            scope_all=self.scope_all,
            scope_regions=self.scope_regions,
            scope_orgs=self.scope_orgs,
            token_id=token_id,
        )


# Columns read into a User: everything except the hash, which stays inside this package.
USER_COLUMNS = tuple(c for c in users.c if c.name != "password_hash")


def user_from_row(row: RowMapping) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        scope_all=bool(row["scope_all"]),
        scope_regions=tuple(str(r) for r in row["scope_regions"] or ()),
        scope_orgs=tuple(int(o) for o in row["scope_orgs"] or ()),
        disabled=bool(row["disabled"]),
        failed_logins=row["failed_logins"],
        locked_until=row["locked_until"],
        password_changed_at=row["password_changed_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def fold_username(username: str) -> str:
    return username.lower()


def is_valid_username(username: str) -> bool:
    return _USERNAME.fullmatch(username) is not None


def validate_username(username: str) -> str:
    """The stored (folded) form of ``username``; InvalidInputError if it is not acceptable."""
    if not is_valid_username(username):
        raise InvalidInputError("a username is 1 to 64 letters, digits or the characters _ . @ -")
    return fold_username(username)


def validate_role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInputError(f"unknown role {role!r} (known: {known})") from None


def validate_display_name(display_name: str) -> str:
    name = display_name.strip()
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        raise InvalidInputError(f"a display name is at most {MAX_DISPLAY_NAME_CHARS} characters")
    return name


def validate_scope_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """Region-code prefixes in GB/T 2260 significant form, deduplicated in given order."""
    result: list[str] = []
    for region in regions:
        if not (
            isinstance(region, str)
            and region.isascii()
            and region.isdigit()
            and len(region) in _REGION_PREFIX_LENGTHS
        ):
            raise InvalidInputError(
                f"scope region {region!r} is not a 2, 4, 6 or 8 digit region code prefix"
            )
        if region not in result:
            result.append(region)
    if len(result) > MAX_SCOPE_ITEMS:
        raise InvalidInputError(f"a scope lists at most {MAX_SCOPE_ITEMS} regions")
    return tuple(result)


def validate_scope_orgs(orgs: Iterable[int]) -> tuple[int, ...]:
    result: list[int] = []
    for org in orgs:
        # bool is an int subclass; True as an organisation id is a caller's mistake.
        if isinstance(org, bool) or not isinstance(org, int) or org <= 0:
            raise InvalidInputError(f"scope organisation {org!r} is not a positive integer id")
        if org not in result:
            result.append(org)
    if len(result) > MAX_SCOPE_ITEMS:
        raise InvalidInputError(f"a scope lists at most {MAX_SCOPE_ITEMS} organisations")
    return tuple(result)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


async def create_user(
    conn: AsyncConnection,
    username: str,
    password: str,
    role: Role | str,
    display_name: str = "",
    scope_all: bool = False,
    scope_regions: Sequence[str] = (),
    scope_orgs: Sequence[int] = (),
    *,
    now: datetime | None = None,
) -> User:
    """Create an account; raises InvalidInputError, WeakPasswordError or UserExistsError."""
    stored_name = validate_username(username)
    checked_role = validate_role(role)
    name = validate_display_name(display_name)
    regions = validate_scope_regions(scope_regions)
    orgs = validate_scope_orgs(scope_orgs)
    check_password_policy(password, stored_name)
    at = _now(now)
    # Checked first so the usual duplicate leaves the caller's transaction usable; the
    # unique constraint still settles a race between two concurrent creations.
    if await _id_by_name(conn, stored_name) is not None:
        raise UserExistsError(f"user {stored_name!r} already exists")
    password_hash = await hash_password_async(password)
    try:
        result = await conn.execute(
            insert(users)
            .values(
                username=stored_name,
                display_name=name,
                password_hash=password_hash,
                role=checked_role.value,
                scope_all=scope_all,
                scope_regions=list(regions),
                scope_orgs=list(orgs),
                disabled=False,
                failed_logins=0,
                password_changed_at=at,
                created_at=at,
                updated_at=at,
            )
            .returning(*USER_COLUMNS)
        )
    except IntegrityError as exc:
        raise UserExistsError(f"user {stored_name!r} already exists") from exc
    return user_from_row(result.mappings().one())


async def _id_by_name(conn: AsyncConnection, stored_name: str) -> int | None:
    result = await conn.execute(select(users.c.id).where(users.c.username == stored_name))
    return result.scalar_one_or_none()


async def get_user(conn: AsyncConnection, user_id: int) -> User | None:
    result = await conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id))
    row = result.mappings().one_or_none()
    return None if row is None else user_from_row(row)


async def get_user_by_name(conn: AsyncConnection, username: str) -> User | None:
    """The user called ``username`` (case-insensitively), or None, also for invalid names."""
    if not is_valid_username(username):
        return None
    result = await conn.execute(
        select(*USER_COLUMNS).where(users.c.username == fold_username(username))
    )
    row = result.mappings().one_or_none()
    return None if row is None else user_from_row(row)


async def list_users(
    conn: AsyncConnection,
    *,
    role: Role | None = None,
    include_disabled: bool = True,
    offset: int = 0,
    limit: int = 1000,
) -> list[User]:
    """Users ordered by username."""
    query = select(*USER_COLUMNS).order_by(users.c.username).offset(offset).limit(limit)
    if role is not None:
        query = query.where(users.c.role == role.value)
    if not include_disabled:
        query = query.where(users.c.disabled.is_(False))
    result = await conn.execute(query)
    return [user_from_row(row) for row in result.mappings()]


async def count_users(conn: AsyncConnection) -> int:
    result = await conn.execute(select(func.count()).select_from(users))
    return int(result.scalar_one())


async def _count_enabled_admins(conn: AsyncConnection, *, excluding: int) -> int:
    result = await conn.execute(
        select(func.count())
        .select_from(users)
        .where(
            users.c.role == Role.ADMIN.value,
            users.c.disabled.is_(False),
            users.c.id != excluding,
        )
    )
    return int(result.scalar_one())


async def update_user(
    conn: AsyncConnection,
    user_id: int,
    *,
    role: Role | str | None = None,
    display_name: str | None = None,
    scope_all: bool | None = None,
    scope_regions: Sequence[str] | None = None,
    scope_orgs: Sequence[int] | None = None,
    disabled: bool | None = None,
    now: datetime | None = None,
) -> User:
    """Change the given fields (None leaves a field as it is) and return the updated user.

    Disabling an account also revokes its tokens, so re-enabling it later does not bring
    old sessions back. Raises UserNotFoundError, InvalidInputError or LastAdminError.
    """
    current = await get_user(conn, user_id)
    if current is None:
        raise UserNotFoundError(f"no user with id {user_id}")
    at = _now(now)
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = validate_role(role).value
    if display_name is not None:
        values["display_name"] = validate_display_name(display_name)
    if scope_all is not None:
        values["scope_all"] = scope_all
    if scope_regions is not None:
        values["scope_regions"] = list(validate_scope_regions(scope_regions))
    if scope_orgs is not None:
        values["scope_orgs"] = list(validate_scope_orgs(scope_orgs))
    if disabled is not None:
        values["disabled"] = disabled
    if not values:
        return current
    stays_enabled_admin = values.get(
        "role", current.role.value
    ) == Role.ADMIN.value and not values.get("disabled", current.disabled)
    is_enabled_admin = current.role is Role.ADMIN and not current.disabled
    # A platform without an enabled admin can only be repaired from the database by hand.
    if (
        is_enabled_admin
        and not stays_enabled_admin
        and await _count_enabled_admins(conn, excluding=user_id) == 0
    ):
        raise LastAdminError("this is the last enabled admin; appoint another admin first")
    values["updated_at"] = at
    result = await conn.execute(
        update(users).where(users.c.id == user_id).values(**values).returning(*USER_COLUMNS)
    )
    if disabled and not current.disabled:
        await revoke_user_tokens(conn, user_id, at)
    return user_from_row(result.mappings().one())


async def set_password(
    conn: AsyncConnection, user_id: int, password: str, *, now: datetime | None = None
) -> int:
    """Replace the password, clear any lockout and revoke every token of the user.

    Returns how many live tokens were revoked. A changed password must end every session
    that the old one opened, or a thief keeps access after the owner reacts.
    """
    current = await get_user(conn, user_id)
    if current is None:
        raise UserNotFoundError(f"no user with id {user_id}")
    check_password_policy(password, current.username)
    at = _now(now)
    password_hash = await hash_password_async(password)
    await conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            password_hash=password_hash,
            password_changed_at=at,
            failed_logins=0,
            first_failure_at=None,
            locked_until=None,
            updated_at=at,
        )
    )
    return await revoke_user_tokens(conn, user_id, at)


async def ensure_admin(
    conn: AsyncConnection, username: str, password: str, *, now: datetime | None = None
) -> bool:
    """Create ``username`` as an unrestricted admin if no admin account exists yet.

    Returns whether it was created. Used on first start; an existing admin (even a disabled
    one) means the platform has been set up, and its accounts are left alone.
    """
    result = await conn.execute(select(users.c.id).where(users.c.role == Role.ADMIN.value).limit(1))
    if result.first() is not None:
        return False
    await create_user(
        conn,
        username,
        password,
        Role.ADMIN,
        display_name="Administrator",
        scope_all=True,
        now=now,
    )
    return True
