"""Errors of the database layer.

DatabaseError
├── MigrationError     the schema could not be brought up to date
└── UnreachableError   the database server did not answer
"""


class DatabaseError(Exception):
    """Base of the database layer's errors."""


class MigrationError(DatabaseError):
    """The schema could not be brought up to date."""


class UnreachableError(DatabaseError):
    """The database server did not answer."""
