"""Argon2id hashing, verification that never raises, and the password policy."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from vigil.access import passwords
from vigil.access.errors import InvalidInputError, WeakPasswordError
from vigil.access.passwords import (
    check_password_policy,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)


def test_production_parameters_are_argon2id_rfc9106(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # drop the suite's cheap hasher: this test is about the real one
    hashed = hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert verify_password(hashed, "correct horse battery")
    assert not needs_rehash(hashed)


def test_hash_is_salted_and_verifies() -> None:
    first = hash_password("river-lantern-17")
    second = hash_password("river-lantern-17")
    assert first != second
    assert first.startswith("$argon2id$")
    assert verify_password(first, "river-lantern-17")
    assert verify_password(second, "river-lantern-17")
    assert not verify_password(first, "river-lantern-18")
    assert not verify_password(first, "")


@pytest.mark.parametrize(
    "bad_hash",
    [
        "",
        "plain",
        "$argon2id$",
        "$argon2id$v=19$m=8,t=1,p=1$AAAA$",
        "$2b$12$abcdefghijk",
        "x" * 500,
    ],
)
def test_malformed_hash_is_false_not_an_exception(bad_hash: str) -> None:
    assert verify_password(bad_hash, "whatever-password") is False
    assert needs_rehash(bad_hash) is True


def test_full_width_and_ascii_forms_are_the_same_password() -> None:
    hashed = hash_password("Pass１２３４ｗｏｒｄ")  # typed with a Chinese input method
    assert verify_password(hashed, "Pass1234word")


def test_other_parameters_need_rehash(monkeypatch: pytest.MonkeyPatch) -> None:
    old = hash_password("river-lantern-17")
    assert not needs_rehash(old)
    stronger = PasswordHasher(time_cost=2, memory_cost=16, parallelism=1)
    monkeypatch.setattr(passwords, "_HASHER", stronger)
    assert needs_rehash(old)
    assert verify_password(old, "river-lantern-17")  # old hashes still verify


async def test_async_variants_run_off_the_loop() -> None:
    hashed = await hash_password_async("river-lantern-17")
    assert await verify_password_async(hashed, "river-lantern-17")
    assert not await verify_password_async(hashed, "nope-nope-nope")
    assert not await verify_password_async("garbage", "river-lantern-17")


@pytest.mark.parametrize(
    ("password", "username", "reason"),
    [
        ("short1!", "", "at least 8 characters"),
        ("zhangwei", "zhangwei", "not be the username"),
        ("ZhangWei", "zhangwei", "not be the username"),
        ("1234567890", "", "digits only"),
        ("２０２６０３０１", "", "digits only"),  # full-width digits are digits
        ("aaaaaaaaaaaa", "", "4 different characters"),
        ("abababababab", "", "4 different characters"),
        ("Password", "", "most common"),
        ("woaini1314", "", "most common"),
        ("a1234567", "", "most common"),
        ("tab\there-it-is", "", "control characters"),
        ("x" * 1025, "", "at most 1024"),
    ],
)
def test_policy_rejects_with_a_reason(password: str, username: str, reason: str) -> None:
    with pytest.raises(WeakPasswordError) as caught:
        check_password_policy(password, username)
    assert reason in caught.value.reason
    assert isinstance(caught.value, InvalidInputError)


@pytest.mark.parametrize(
    "password",
    ["admin-secret-42", "river-lantern-17", "我的密码是长城2026", "correct horse battery staple"],
)
def test_policy_accepts_reasonable_passwords(password: str) -> None:
    check_password_policy(password, "admin")
