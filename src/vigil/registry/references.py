"""Checks that a record's references (region, owner, parent device) exist and may be used.

A caller may attach a record to an owner or device it can see, or to one registered at a
level above the record's region (a city bureau owns points in its counties), so a county
operator can file points for city-wide owners without seeing the rest of the city.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import devices, organisations, regions
from vigil.registry.errors import UnknownRegionError, ValidationError
from vigil.registry.scope import Scope


def may_reference(
    scope: Scope, target_region: str | None, target_org: int | None, record_region: str | None
) -> bool:
    """Whether a record in ``record_region`` may refer to an owner or device so placed.

    A record without a region may only refer to what the caller can see.
    """
    if scope.covers(target_region, target_org):
        return True
    return (
        target_region is not None
        and record_region is not None
        and record_region.startswith(target_region)
    )


async def check_region_registered(conn: AsyncConnection, code: str, field: str) -> None:
    found = await conn.scalar(select(regions.c.code).where(regions.c.code == code))
    if found is None:
        raise UnknownRegionError.of(field, f"region {code} is not registered")


async def check_org_usable(
    conn: AsyncConnection,
    scope: Scope,
    org_id: int,
    record_region: str | None,
    field: str = "org_id",
) -> None:
    row = (
        await conn.execute(select(organisations.c.region_code).where(organisations.c.id == org_id))
    ).first()
    if row is None or not may_reference(scope, row.region_code, org_id, record_region):
        raise ValidationError.of(field, f"no organisation {org_id}")


async def check_device_usable(
    conn: AsyncConnection, scope: Scope, device_id: str, record_region: str, field: str
) -> None:
    row = (
        await conn.execute(
            select(devices.c.region_code, devices.c.org_id).where(devices.c.id == device_id)
        )
    ).first()
    if row is None or not may_reference(scope, row.region_code, row.org_id, record_region):
        raise ValidationError.of(field, f"no device {device_id}")
