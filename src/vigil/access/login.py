"""Password login with throttling per account (in the database) and per source (in memory).

Two brakes, because they stop different attacks:

* **Per account** (``users.failed_logins``, ``first_failure_at``, ``locked_until``): after
  ``max_failures`` failures within ``failure_window_s`` the account refuses logins for
  ``lockout_s``. It lives in the database so it survives restarts and binds every API
  process; a success resets it.
* **Per source** (:class:`SourceThrottle`, in memory): one address may fail at most
  ``max_failures`` times in a sliding window, whatever usernames it tries, so it cannot
  spray one common password across every account while staying under each account's limit.

Unknown usernames, wrong passwords and disabled accounts all raise the same
:class:`LoginFailedError` after the same argon2 work, so answers do not reveal which
accounts exist. (A locked account does answer differently; reaching that state costs an
address ``max_failures`` attempts per probed name, which the source throttle caps.)

The failure bookkeeping is written on the caller's connection *before* the error is raised:
catch the error inside the transaction (and audit it there) so that it commits.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from datetime import datetime, timedelta

from sqlalchemy import case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.errors import LoginFailedError, LoginThrottledError
from vigil.access.passwords import (
    MAX_PASSWORD_CHARS,
    hash_password_async,
    needs_rehash,
    verify_dummy_async,
    verify_password_async,
)
from vigil.access.principal import Principal
from vigil.access.users import USER_COLUMNS, fold_username, is_valid_username, user_from_row
from vigil.db.tables import users
from vigil.settings import AuthSettings

# An IPv6 client usually controls a whole /64, so that is the unit of a "source".
IPV6_SOURCE_PREFIX = 64


class SourceThrottle:
    """Sliding-window count of failed logins per source address, bounded in memory.

    A success does not clear a source's failures: otherwise an attacker holding one valid
    account could log into it every few guesses and spray the others forever.
    """

    def __init__(
        self, max_failures: int = 20, window_s: float = 900.0, max_sources: int = 10_000
    ) -> None:
        if max_failures < 1 or window_s <= 0 or max_sources < 1:
            raise ValueError("max_failures, window_s and max_sources must be positive")
        self.max_failures = max_failures
        self.window_s = window_s
        self.max_sources = max_sources
        # Least recently failed first, so the oldest source is evicted when full.
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    @staticmethod
    def source_key(source_ip: str) -> str:
        try:
            address = ipaddress.ip_address(source_ip)
        except ValueError:
            return source_ip[:64]
        if isinstance(address, ipaddress.IPv6Address):
            # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; grouping those
            # by /64 would put every IPv4 client into one bucket.
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            network = ipaddress.ip_network(f"{address}/{IPV6_SOURCE_PREFIX}", strict=False)
            return str(network)
        return str(address)

    def retry_after_s(self, source_ip: str, now: datetime) -> float:
        """Seconds until ``source_ip`` may try again; 0.0 if it may try now."""
        stamps = self._failures.get(self.source_key(source_ip))
        if stamps is None:
            return 0.0
        at = now.timestamp()
        while stamps and stamps[0] <= at - self.window_s:
            stamps.popleft()
        if len(stamps) < self.max_failures:
            return 0.0
        # The window reopens when its oldest failure still counted falls out of it.
        return max(stamps[0] + self.window_s - at, 0.0)

    def record_failure(self, source_ip: str, now: datetime) -> None:
        key = self.source_key(source_ip)
        stamps = self._failures.pop(key, None)
        if stamps is None:
            # Only the newest max_failures stamps can decide anything: bounded per source.
            stamps = deque(maxlen=self.max_failures)
        stamps.append(now.timestamp())
        self._failures[key] = stamps
        while len(self._failures) > self.max_sources:
            self._failures.popitem(last=False)

    def __len__(self) -> int:
        return len(self._failures)


async def authenticate(
    conn: AsyncConnection,
    username: str,
    password: str,
    now: datetime,
    source_ip: str,
    throttle: SourceThrottle,
    settings: AuthSettings,
) -> Principal:
    """Check a username and password; the Principal (without a token) on success.

    Raises LoginThrottledError(retry_after_s) while the source or the account is throttled,
    LoginFailedError for an unknown user, a wrong password or a disabled account.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    source_wait_s = throttle.retry_after_s(source_ip, now)
    if source_wait_s > 0:
        raise LoginThrottledError(source_wait_s)

    row = None
    if is_valid_username(username):
        result = await conn.execute(
            select(*USER_COLUMNS, users.c.password_hash).where(
                users.c.username == fold_username(username)
            )
        )
        row = result.mappings().one_or_none()
    if row is None or len(password) > MAX_PASSWORD_CHARS:
        await verify_dummy_async(password[:MAX_PASSWORD_CHARS])
        throttle.record_failure(source_ip, now)
        raise LoginFailedError()

    user = user_from_row(row)
    if user.locked_until is not None and user.locked_until > now:
        # Counted against the source too: hammering a locked account is still guessing.
        throttle.record_failure(source_ip, now)
        raise LoginThrottledError((user.locked_until - now).total_seconds())

    password_hash: str = row["password_hash"]
    matches = await verify_password_async(password_hash, password)
    if not matches or user.disabled:
        throttle.record_failure(source_ip, now)
        await _record_account_failure(conn, user.id, now, settings)
        raise LoginFailedError()

    if user.failed_logins or user.locked_until is not None:
        await conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                failed_logins=0,
                first_failure_at=None,
                locked_until=None,
                updated_at=users.c.updated_at,
            )
        )
    if needs_rehash(password_hash):
        # Upgrading the parameters needs the plaintext, which only a login ever has.
        await conn.execute(
            update(users)
            .where(users.c.id == user.id)
            .values(
                password_hash=await hash_password_async(password),
                updated_at=users.c.updated_at,
            )
        )
    return user.principal()


async def _record_account_failure(
    conn: AsyncConnection, user_id: int, now: datetime, settings: AuthSettings
) -> None:
    """Count a failure; lock the account once the window holds ``max_failures`` of them.

    One UPDATE computes the new count in SQL, so concurrent failures on several connections
    (or several processes) cannot lose each other's increments.
    """
    window_start = now - timedelta(seconds=settings.failure_window_s)
    window_expired = users.c.first_failure_at.is_(None) | (users.c.first_failure_at <= window_start)
    result = await conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            failed_logins=case((window_expired, 1), else_=users.c.failed_logins + 1),
            # Typed literal: the column type normalises the time to UTC on every backend.
            first_failure_at=case(
                (window_expired, literal(now, users.c.first_failure_at.type)),
                else_=users.c.first_failure_at,
            ),
            # Bookkeeping is not an edit of the account: keep updated_at as it was.
            updated_at=users.c.updated_at,
        )
        .returning(users.c.failed_logins)
    )
    failures = result.scalar_one()
    if failures >= settings.max_failures:
        # The count restarts after a lockout, so the next lock again needs max_failures.
        await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(
                failed_logins=0,
                first_failure_at=None,
                locked_until=now + timedelta(seconds=settings.lockout_s),
                updated_at=users.c.updated_at,
            )
        )
