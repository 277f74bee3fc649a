"""Errors of the registry (the ledger of regions, owners, devices and collection points).

    RegistryError
    ├── NotFoundError          no such record, or it lies outside the caller's scope
    ├── ValidationError        one or more field values are malformed (``problems``)
    │   └── UnknownRegionError a region code names no registered region
    ├── ScopeError             the change would create or move a record outside the scope
    ├── ConflictError          the ID or code is already registered
    │   └── InUseError         the record is still referenced and cannot be deleted
    └── LedgerError            a ledger file cannot be read at all (format, encoding, size)

Reads outside the caller's scope raise NotFoundError, never ScopeError, so a caller cannot
learn that a record it may not see exists. Row-level ledger problems are not exceptions: they
are collected as ``RowError`` values in the import report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class RegistryError(Exception):
    """Base of every registry error."""


class NotFoundError(RegistryError):
    """No such record, or the record lies outside the caller's scope."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One invalid field: its name as the caller spelled it and a plain reason."""

    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ValidationError(RegistryError):
    """One or more field values are malformed or refer to nothing."""

    def __init__(self, problems: FieldProblem | Sequence[FieldProblem]) -> None:
        self.problems: tuple[FieldProblem, ...] = (
            (problems,) if isinstance(problems, FieldProblem) else tuple(problems)
        )
        if not self.problems:
            raise ValueError("a ValidationError needs at least one problem")
        super().__init__("; ".join(str(problem) for problem in self.problems))

    @classmethod
    def of(cls, field: str, reason: str) -> ValidationError:
        return cls(FieldProblem(field, reason))

    @property
    def field(self) -> str:
        """The first invalid field (the one a form should focus)."""
        return self.problems[0].field


class UnknownRegionError(ValidationError):
    """A region code is well formed but names no registered region."""


class ScopeError(RegistryError):
    """The change would create or move a record outside the caller's scope."""


class ConflictError(RegistryError):
    """The ID or code is already registered."""


class InUseError(ConflictError):
    """The record is still referenced (children, channels, devices) and cannot be deleted."""


class LedgerError(RegistryError):
    """A ledger file cannot be read at all: not CSV or XLSX, undecodable, or too large."""
