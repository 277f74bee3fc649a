"""Errors of the access layer (users, passwords, tokens, logins, audit chain).

    AccessError
    ├── InvalidInputError        a username, role, scope or audit field is not acceptable
    │   └── WeakPasswordError    the password fails the policy; ``reason`` says why
    ├── UserExistsError          the username is taken
    ├── UserNotFoundError        no user with that id or name
    ├── UserDisabledError        the account is disabled (issuing a token for it)
    ├── LastAdminError           the change would leave no enabled admin
    ├── LoginError               a login attempt did not succeed
    │   ├── LoginFailedError     wrong username or password, or a disabled account (one message)
    │   └── LoginThrottledError  too many failures from the account or source; ``retry_after_s``
    └── AuditError
        ├── AuditKeyError        the audit key file is unreadable or malformed
        └── AuditChainError      appending found the head out of step with the log

``InvalidInputError`` is also a ``ValueError`` so generic validation handlers catch it.
"""

from __future__ import annotations


class AccessError(Exception):
    """Base of the access layer's errors."""


class InvalidInputError(AccessError, ValueError):
    """A username, role, scope or audit field is not acceptable."""


class WeakPasswordError(InvalidInputError):
    """The password fails the policy; ``reason`` is a sentence fit to show the user."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"weak password: {reason}")
        self.reason = reason


class UserExistsError(AccessError):
    """The username is taken (usernames are compared case-insensitively)."""


class UserNotFoundError(AccessError):
    """No user with that id or name."""


class UserDisabledError(AccessError):
    """The account is disabled."""


class LastAdminError(AccessError):
    """Demoting or disabling this account would leave the platform with no enabled admin."""


class LoginError(AccessError):
    """A login attempt did not succeed."""


class LoginFailedError(LoginError):
    """Wrong username or password, or a disabled account.

    The message never says which: telling them apart would let a caller enumerate accounts.
    """

    def __init__(self) -> None:
        super().__init__("wrong username or password")


class LoginThrottledError(LoginError):
    """Too many failed logins for the account or from the source; retry after the delay."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed logins; retry after {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class AuditError(AccessError):
    """Base of the audit chain's errors."""


class AuditKeyError(AuditError):
    """The audit key file is unreadable or malformed."""


class AuditChainError(AuditError):
    """Appending found the head row out of step with the log (run ``vigil audit verify``)."""
