"""Password login on SQLite and PostgreSQL: outcomes, no enumeration, both throttles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access import passwords
from vigil.access.errors import LoginFailedError, LoginThrottledError
from vigil.access.login import SourceThrottle, authenticate
from vigil.access.principal import Principal
from vigil.access.roles import Role
from vigil.access.users import User, create_user, update_user
from vigil.db.tables import users
from vigil.settings import AuthSettings

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)
PASSWORD = "river-lantern-17"
SETTINGS = AuthSettings(max_failures=3, failure_window_s=60, lockout_s=30)
IP = "198.51.100.7"


class CountingHasher(PasswordHasher):
    """The suite's cheap hasher, counting verifications (real or dummy)."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        return super().verify(hash, password)


async def _user(engine: AsyncEngine, name: str = "guo.jing") -> User:
    async with engine.begin() as conn:
        return await create_user(conn, name, PASSWORD, Role.OPERATOR, "郭靖", scope_all=True)


async def _login(
    engine: AsyncEngine,
    username: str,
    password: str,
    now: datetime,
    throttle: SourceThrottle,
    ip: str = IP,
) -> Principal:
    """One login in its own transaction, committing the bookkeeping even when it fails,
    as the API does."""
    async with engine.begin() as conn:
        try:
            return await authenticate(conn, username, password, now, ip, throttle, SETTINGS)
        except (LoginFailedError, LoginThrottledError) as exc:
            failure = exc
    raise failure


async def _counters(engine: AsyncEngine, user_id: int) -> tuple[int, datetime | None]:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(users.c.failed_logins, users.c.locked_until).where(users.c.id == user_id)
            )
        ).one()
    return row[0], row[1]


async def test_success_returns_the_principal(engine: AsyncEngine) -> None:
    user = await _user(engine)
    principal = await _login(engine, "Guo.Jing", PASSWORD, T0, SourceThrottle())
    assert principal == user.principal()
    assert principal.token_id is None
    assert principal.role is Role.OPERATOR


async def test_unknown_user_and_wrong_password_are_indistinguishable(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _user(engine)
    hasher = CountingHasher()
    monkeypatch.setattr(passwords, "_HASHER", hasher)
    throttle = SourceThrottle()

    with pytest.raises(LoginFailedError) as wrong:
        await _login(engine, "guo.jing", "wrong-lantern", T0, throttle)
    assert hasher.verifications == 1
    with pytest.raises(LoginFailedError) as unknown:
        await _login(engine, "huang.rong", PASSWORD, T0, throttle)
    # The unknown name cost an argon2 verification too, so timing does not tell them apart.
    assert hasher.verifications == 2
    with pytest.raises(LoginFailedError) as invalid:
        await _login(engine, "not a valid name", PASSWORD, T0, throttle)
    assert hasher.verifications == 3
    assert str(wrong.value) == str(unknown.value) == str(invalid.value)
    assert type(wrong.value) is type(unknown.value) is LoginFailedError


async def test_disabled_account_fails_like_a_wrong_password(engine: AsyncEngine) -> None:
    user = await _user(engine)
    async with engine.begin() as conn:
        await update_user(conn, user.id, disabled=True)
    with pytest.raises(LoginFailedError, match="wrong username or password"):
        await _login(engine, "guo.jing", PASSWORD, T0, SourceThrottle())


async def test_failures_are_kept_when_the_error_is_caught_inside_the_transaction(
    engine: AsyncEngine,
) -> None:
    user = await _user(engine)
    with pytest.raises(LoginFailedError):
        await _login(engine, "guo.jing", "wrong-lantern", T0, SourceThrottle())
    assert await _counters(engine, user.id) == (1, None)


async def test_lockout_after_max_failures_then_unlock_after_lockout_s(
    engine: AsyncEngine,
) -> None:
    user = await _user(engine)
    throttle = SourceThrottle()
    for second in range(3):
        with pytest.raises(LoginFailedError):
            await _login(
                engine, "guo.jing", "wrong-lantern", T0 + timedelta(seconds=second), throttle
            )
    locked_at = T0 + timedelta(seconds=2)
    assert await _counters(engine, user.id) == (0, locked_at + timedelta(seconds=30))

    # Locked: even the right password is refused, with the time left.
    with pytest.raises(LoginThrottledError) as caught:
        await _login(engine, "guo.jing", PASSWORD, locked_at + timedelta(seconds=10), throttle)
    assert caught.value.retry_after_s == pytest.approx(20.0)
    with pytest.raises(LoginThrottledError):
        await _login(engine, "guo.jing", PASSWORD, locked_at + timedelta(seconds=29.9), throttle)

    principal = await _login(
        engine, "guo.jing", PASSWORD, locked_at + timedelta(seconds=30), throttle
    )
    assert principal.user_id == user.id
    assert await _counters(engine, user.id) == (0, None)


async def test_failures_outside_the_window_do_not_accumulate(engine: AsyncEngine) -> None:
    user = await _user(engine)
    throttle = SourceThrottle()
    for minute in range(5):
        with pytest.raises(LoginFailedError):
            await _login(engine, "guo.jing", "wrong", T0 + timedelta(seconds=61 * minute), throttle)
    assert await _counters(engine, user.id) == (1, None)
    assert await _login(engine, "guo.jing", PASSWORD, T0 + timedelta(minutes=6), throttle)


async def test_success_resets_the_count(engine: AsyncEngine) -> None:
    user = await _user(engine)
    throttle = SourceThrottle()
    for _ in range(2):
        with pytest.raises(LoginFailedError):
            await _login(engine, "guo.jing", "wrong", T0, throttle)
    await _login(engine, "guo.jing", PASSWORD, T0, throttle)
    assert await _counters(engine, user.id) == (0, None)
    for _ in range(2):
        with pytest.raises(LoginFailedError):
            await _login(engine, "guo.jing", "wrong", T0, throttle)
    assert await _login(engine, "guo.jing", PASSWORD, T0, throttle)


async def test_lockout_is_per_account(engine: AsyncEngine) -> None:
    await _user(engine, "guo.jing")
    other = await _user(engine, "huang.rong")
    throttle = SourceThrottle()
    for _ in range(3):
        with pytest.raises(LoginFailedError):
            await _login(engine, "guo.jing", "wrong", T0, throttle)
    principal = await _login(engine, "huang.rong", PASSWORD, T0, throttle)
    assert principal.user_id == other.id


async def test_concurrent_failures_are_all_counted(engine: AsyncEngine) -> None:
    user = await _user(engine)
    settings = AuthSettings(max_failures=100, failure_window_s=60, lockout_s=30)
    throttle = SourceThrottle()

    async def fail_once() -> None:
        async with engine.begin() as conn:
            with pytest.raises(LoginFailedError):
                await authenticate(conn, "guo.jing", "wrong", T0, IP, throttle, settings)

    await asyncio.gather(*(fail_once() for _ in range(6)))
    assert await _counters(engine, user.id) == (6, None)


async def test_one_source_cannot_spray_many_accounts(engine: AsyncEngine) -> None:
    for index in range(4):
        await _user(engine, f"user{index}")
    throttle = SourceThrottle(max_failures=4, window_s=60)
    # One guess per account stays under every account's limit, but not under the source's.
    for index in range(4):
        with pytest.raises(LoginFailedError):
            await _login(engine, f"user{index}", "Summer2026!", T0, throttle)
    with pytest.raises(LoginThrottledError) as caught:
        await _login(engine, "user0", PASSWORD, T0 + timedelta(seconds=10), throttle)
    assert caught.value.retry_after_s == pytest.approx(50.0)
    # Another address is unaffected, and the first may try again once the window has passed.
    assert await _login(engine, "user0", PASSWORD, T0, throttle, ip="203.0.113.9")
    assert await _login(engine, "user0", PASSWORD, T0 + timedelta(seconds=60), throttle)


async def test_rehash_on_login_when_parameters_change(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await _user(engine)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(passwords, "_HASHER", stronger)
    await _login(engine, "guo.jing", PASSWORD, T0, SourceThrottle())
    async with engine.connect() as conn:
        stored = (
            await conn.execute(select(users.c.password_hash).where(users.c.id == user.id))
        ).scalar_one()
    assert "$m=16,t=2,p=1$" in stored
    assert passwords.verify_password(stored, PASSWORD)


async def test_naive_time_is_refused(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        with pytest.raises(ValueError, match="timezone"):
            await authenticate(
                conn,
                "x",
                "y",
                datetime(2026, 1, 1),
                IP,
                SourceThrottle(),
                SETTINGS,
            )


# --- SourceThrottle on its own ----------------------------------------------------------


def test_source_throttle_sliding_window() -> None:
    throttle = SourceThrottle(max_failures=3, window_s=100)
    for offset_s in (0, 10, 20):
        assert throttle.retry_after_s(IP, T0 + timedelta(seconds=offset_s)) == 0
        throttle.record_failure(IP, T0 + timedelta(seconds=offset_s))
    assert throttle.retry_after_s(IP, T0 + timedelta(seconds=30)) == pytest.approx(70)
    # The oldest failure leaves the window at 100 s; one slot opens, then closes again.
    assert throttle.retry_after_s(IP, T0 + timedelta(seconds=100)) == 0
    throttle.record_failure(IP, T0 + timedelta(seconds=100))
    assert throttle.retry_after_s(IP, T0 + timedelta(seconds=101)) == pytest.approx(9)
    assert throttle.retry_after_s("192.0.2.1", T0) == 0


def test_source_throttle_groups_ipv6_by_64() -> None:
    throttle = SourceThrottle(max_failures=2, window_s=60)
    throttle.record_failure("2001:db8:1:2::1", T0)
    throttle.record_failure("2001:db8:1:2:ffff::9", T0)
    assert throttle.retry_after_s("2001:db8:1:2::abcd", T0) > 0
    assert throttle.retry_after_s("2001:db8:1:3::1", T0) == 0
    assert SourceThrottle.source_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    # IPv4 clients seen through a dual-stack socket stay one address each.
    assert SourceThrottle.source_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert SourceThrottle.source_key("::ffff:10.0.0.2") == "10.0.0.2"
    assert SourceThrottle.source_key("not-an-ip") == "not-an-ip"


def test_source_throttle_memory_is_bounded() -> None:
    throttle = SourceThrottle(max_failures=2, window_s=60, max_sources=100)
    for index in range(1000):
        throttle.record_failure(f"10.0.{index // 256}.{index % 256}", T0)
    assert len(throttle) == 100
    # The most recent sources are the ones kept.
    throttle.record_failure("10.0.3.231", T0)
    assert throttle.retry_after_s("10.0.3.231", T0) > 0
    assert throttle.retry_after_s("10.0.0.0", T0) == 0


def test_source_throttle_rejects_nonsense_limits() -> None:
    with pytest.raises(ValueError, match="positive"):
        SourceThrottle(max_failures=0)
