"""Password hashing (argon2id) and the password policy.

Passwords are NFKC-normalised before hashing and checking, so a full-width "１２３" typed
with a Chinese input method and the ASCII "123" are the same password (as NIST SP 800-63B
recommends for Unicode secrets).

Argon2 costs ~0.1 s of CPU and 64 MiB per call by design. The ``*_async`` functions run it on
a small dedicated thread pool so that a burst of logins neither stalls the event loop (which
also carries signalling and media) nor allocates more than one hash's memory per core.
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vigil.access.errors import WeakPasswordError

MIN_PASSWORD_CHARS = 8
# Long enough for any passphrase, short enough that hashing one is not a denial of service.
MAX_PASSWORD_CHARS = 1024
MIN_DISTINCT_CHARS = 4

# The argon2-cffi defaults are RFC 9106's second recommendation for argon2id
# (t=3, m=64 MiB, p=4); hashes record their parameters, so raising them later is safe.
_HASHER = PasswordHasher()

_POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="argon2")

# Passwords that satisfy the length rules but head every leaked-password list, including the
# Chinese ones (CSDN, 12306 leaks); compared case-insensitively.
_COMMON_PASSWORDS = frozenset(
    {
        "password", "password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword",
        "qwertyui", "qwerty123", "qwerty12", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t", "zxcvbnm1",
        "asdfghjk", "abcd1234", "abc12345", "a1234567", "aa123456", "a123456789", "qq123456",
        "admin123", "admin@123", "admin1234", "administrator", "root1234", "iloveyou",
        "woaini1314", "woaini520", "welcome1", "letmein1", "changeme", "default1",
    }
)  # fmt: skip


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check_password_policy(password: str, username: str = "") -> None:
    """Raise WeakPasswordError with a user-facing reason if ``password`` is too weak."""
    candidate = normalise(password)
    if len(candidate) < MIN_PASSWORD_CHARS:
        raise WeakPasswordError(f"it must be at least {MIN_PASSWORD_CHARS} characters long")
    if len(candidate) > MAX_PASSWORD_CHARS:
        raise WeakPasswordError(f"it must be at most {MAX_PASSWORD_CHARS} characters long")
    if any(unicodedata.category(ch) == "Cc" for ch in candidate):
        raise WeakPasswordError("it must not contain control characters")
    if username and candidate.casefold() == normalise(username).casefold():
        raise WeakPasswordError("it must not be the username")
    if candidate.isdigit():
        raise WeakPasswordError("it must not consist of digits only")
    if len(set(candidate.casefold())) < MIN_DISTINCT_CHARS:
        raise WeakPasswordError(
            f"it must contain at least {MIN_DISTINCT_CHARS} different characters"
        )
    if candidate.casefold() in _COMMON_PASSWORDS:
        raise WeakPasswordError("it is one of the most common passwords")


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (PHC string with salt and parameters)."""
    return _HASHER.hash(normalise(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; False (never an exception) for a malformed hash.

    The comparison inside argon2 is constant-time.
    """
    try:
        return _HASHER.verify(password_hash, normalise(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's (or is unreadable)."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("a password nobody has")


def verify_dummy(password: str) -> None:
    """Spend the time of a real verification, for logins naming an unknown user.

    Without it an unknown username answers ~0.1 s faster than a wrong password, which tells
    an attacker which accounts exist.
    """
    verify_password(_dummy_hash(_HASHER), password)


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_POOL, hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_POOL, verify_password, password_hash, password)


async def verify_dummy_async(password: str) -> None:
    await asyncio.get_running_loop().run_in_executor(_POOL, verify_dummy, password)
