"""Roles grant exactly the permissions the design gives them."""

from __future__ import annotations

import pytest

from vigil.access.principal import Principal
from vigil.access.roles import ROLE_PERMISSIONS, Permission, Role

P = Permission


def test_every_role_has_a_permission_set() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_admin_has_every_permission() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (
            Role.OPERATOR,
            {
                P.REGISTRY_READ,
                P.REGISTRY_WRITE,
                P.LEDGER_IMPORT,
                P.LEDGER_EXPORT,
                P.LIVE_VIEW,
                P.PLAYBACK_VIEW,
                P.PTZ_CONTROL,
                P.DEVICES_MANAGE,
            },
        ),
        (Role.VIEWER, {P.REGISTRY_READ, P.LIVE_VIEW, P.PLAYBACK_VIEW}),
        (Role.AUDITOR, {P.AUDIT_READ, P.REGISTRY_READ}),
        (Role.APPROVER, {P.SHARE_APPROVE, P.REGISTRY_READ, P.LIVE_VIEW}),
    ],
)
def test_role_permissions(role: Role, expected: set[Permission]) -> None:
    assert ROLE_PERMISSIONS[role] == expected


def test_only_admin_manages_users_and_only_admin_and_auditor_read_audit() -> None:
    assert {r for r, perms in ROLE_PERMISSIONS.items() if P.USERS_MANAGE in perms} == {Role.ADMIN}
    assert {r for r, perms in ROLE_PERMISSIONS.items() if P.AUDIT_READ in perms} == {
        Role.ADMIN,
        Role.AUDITOR,
    }


def test_permission_values_are_the_documented_strings() -> None:
    assert {p.value for p in Permission} == {
        "registry.read",
        "registry.write",
        "ledger.import",
        "ledger.export",
        "users.manage",
        "audit.read",
        "live.view",
        "playback.view",
        "export.create",
        "ptz.control",
        "share.approve",
        "devices.manage",
    }


def test_the_mapping_cannot_be_modified() -> None:
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS[Role.VIEWER] = frozenset(Permission)  # type: ignore[index]


def test_principal_permissions_follow_its_role() -> None:
    viewer = Principal(1, "li.na", "Li Na", Role.VIEWER, False, ("3402",), (), token_id=7)
    assert viewer.has(P.LIVE_VIEW)
    assert not viewer.has(P.PTZ_CONTROL)
    assert not viewer.has(P.USERS_MANAGE)
    assert viewer.permissions == ROLE_PERMISSIONS[Role.VIEWER]
