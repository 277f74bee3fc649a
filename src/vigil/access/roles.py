"""Roles and the permissions each grants.

A role is a fixed bundle of permissions; what a user may touch is further narrowed by the
user's scope (region prefixes, organisations) and, for shared channels, by grants. Roles are
code rather than data so that every deployment means the same thing by "auditor".
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"
    AUDITOR = "auditor"
    APPROVER = "approver"


class Permission(StrEnum):
    REGISTRY_READ = "registry.read"
    REGISTRY_WRITE = "registry.write"
    LEDGER_IMPORT = "ledger.import"
    LEDGER_EXPORT = "ledger.export"
    USERS_MANAGE = "users.manage"
    AUDIT_READ = "audit.read"
    LIVE_VIEW = "live.view"
    PLAYBACK_VIEW = "playback.view"
    EXPORT_CREATE = "export.create"
    PTZ_CONTROL = "ptz.control"
    SHARE_APPROVE = "share.approve"
    DEVICES_MANAGE = "devices.manage"


P = Permission

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        # Runs the platform: accounts, ledger, devices, everything.
        Role.ADMIN: frozenset(Permission),
        # The monitoring-centre duty officer: keeps the ledger, watches, steers cameras, looks
        # after devices. No accounts, no audit reading, no evidence export (that is a grant).
        Role.OPERATOR: frozenset(
            {
                P.REGISTRY_READ,
                P.REGISTRY_WRITE,
                P.LEDGER_IMPORT,
                P.LEDGER_EXPORT,
                P.LIVE_VIEW,
                P.PLAYBACK_VIEW,
                P.PTZ_CONTROL,
                P.DEVICES_MANAGE,
            }
        ),
        # Looks at the cameras in scope, live and recorded; changes nothing.
        Role.VIEWER: frozenset({P.REGISTRY_READ, P.LIVE_VIEW, P.PLAYBACK_VIEW}),
        # Inspects who did what (the audit log) and what exists; sees no video, so the
        # oversight role cannot itself become a way to watch people.
        Role.AUDITOR: frozenset({P.AUDIT_READ, P.REGISTRY_READ}),
        # The owning side of a sharing request: decides on grants and may look at the live
        # picture of the channels it is asked to share.
        Role.APPROVER: frozenset({P.SHARE_APPROVE, P.REGISTRY_READ, P.LIVE_VIEW}),
    }
)


def permissions_of(role: Role) -> frozenset[Permission]:
    """The permissions ``role`` grants."""
    return ROLE_PERMISSIONS[role]
