"""The authenticated caller of a request: who, in which role, over which scope."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.access.roles import Permission, Role, permissions_of


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user as the upper layers see it; ``token_id`` is None outside a token.

    Scope is ``scope_all`` or the union of region-code prefixes and organisation ids; the
    registry turns it into a SQL filter.
    """

    user_id: int
    username: str
    display_name: str
    role: Role
    scope_all: bool
    scope_regions: tuple[str, ...]
    scope_orgs: tuple[int, ...]
    token_id: int | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.role)

    def has(self, permission: Permission) -> bool:
        return permission in permissions_of(self.role)
