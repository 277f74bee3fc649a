"""What part of the ledger a caller may see: the filter applied to every registry query.

Access decides who has which scope; the registry only applies it. A scope is either
unrestricted or the union of region-code prefixes and owner organisations, so a user of
county 340202 never sees county 340203, and a school's guard sees only the school's points.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, and_, false, or_, true

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import significant_region_code


@dataclass(frozen=True, slots=True)
class Scope:
    unrestricted: bool = False
    region_prefixes: tuple[str, ...] = ()
    org_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        # Regions are stored in significant form ("3402"), so a prefix written the GB/T 2260
        # way ("340200") would match nothing; normalise it once here.
        normalised = tuple(dict.fromkeys(_significant(p) for p in self.region_prefixes))
        if normalised != self.region_prefixes:
            object.__setattr__(self, "region_prefixes", normalised)

    def covers(self, region_code: str | None, org_id: int | None) -> bool:
        if self.unrestricted:
            return True
        if region_code is not None and any(region_code.startswith(p) for p in self.region_prefixes):
            return True
        return org_id is not None and org_id in self.org_ids

    def covers_region(self, region_code: str) -> bool:
        """Whether the whole region lies inside the scope (for region-level edits)."""
        return self.unrestricted or any(region_code.startswith(p) for p in self.region_prefixes)

    def clause(self, table: Table) -> ColumnElement[bool]:
        """SQL condition selecting the rows of ``table`` (with region_code, org_id) in scope."""
        if self.unrestricted:
            return true()
        conditions: list[ColumnElement[bool]] = [
            region_prefix_clause(table.c.region_code, prefix) for prefix in self.region_prefixes
        ]
        if self.org_ids:
            conditions.append(table.c.org_id.in_(self.org_ids))
        return or_(*conditions) if conditions else false()

    def organisation_clause(self, table: Table) -> ColumnElement[bool]:
        """SQL condition selecting organisations in scope: by their own id or their region."""
        if self.unrestricted:
            return true()
        conditions: list[ColumnElement[bool]] = [
            region_prefix_clause(table.c.region_code, prefix) for prefix in self.region_prefixes
        ]
        if self.org_ids:
            conditions.append(table.c.id.in_(self.org_ids))
        return or_(*conditions) if conditions else false()


def _significant(prefix: str) -> str:
    try:
        return significant_region_code(prefix)
    except ParseError:
        return prefix  # not a region code: it matches nothing, as written


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest digit string greater than every string that starts with ``prefix``.

    ``"3402"`` → ``"3403"``, ``"3409"`` → ``"341"``, ``"99"`` → None (no bound).
    """
    stripped = prefix.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + chr(ord(stripped[-1]) + 1)


def region_prefix_clause(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with the digit string ``prefix``, written as an index-friendly range.

    ``LIKE 'p%'`` cannot use a plain B-tree index on SQLite (LIKE is case-insensitive there)
    nor on PostgreSQL outside the C collation, while a half-open range on digit strings can,
    in every collation: digits sort by value everywhere.
    """
    if not prefix.isascii() or not prefix.isdigit():
        return column.startswith(prefix, autoescape=True)
    upper = prefix_upper_bound(prefix)
    if upper is None:
        return column >= prefix
    return and_(column >= prefix, column < upper)


UNRESTRICTED = Scope(unrestricted=True)
