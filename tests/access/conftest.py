"""Fixtures of the access tests: cheap argon2 parameters."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from vigil.access import passwords

# Real parameters cost ~0.1 s and 64 MiB a hash; these tests hash hundreds of times and test
# behaviour, not cost. One test in test_passwords undoes this to check the real parameters.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "_HASHER", FAST_HASHER)
