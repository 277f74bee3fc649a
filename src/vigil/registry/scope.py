"""What part of the ledger a caller may see: the filter applied to every registry query.

Access decides who has which scope; the registry only applies it. A scope is either
unrestricted or the union of region-code prefixes and owner organisations, so a user of
county 340202 never sees county 340203, and a school's guard sees only the school's points.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Table, false, or_, true


@dataclass(frozen=True, slots=True)
class Scope:
    unrestricted: bool = False
    region_prefixes: tuple[str, ...] = ()
    org_ids: tuple[int, ...] = ()

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
            table.c.region_code.startswith(prefix, autoescape=True)
            for prefix in self.region_prefixes
        ]
        if self.org_ids:
            conditions.append(table.c.org_id.in_(self.org_ids))
        return or_(*conditions) if conditions else false()


UNRESTRICTED = Scope(unrestricted=True)
