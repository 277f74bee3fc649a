"""Display names for the region codes and organisation ids shown beside collection points."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import organisations, regions


async def point_labels(
    conn: AsyncConnection, region_codes: Iterable[str], org_ids: Iterable[int | None]
) -> tuple[dict[str, str], dict[int, str]]:
    """Names of the given regions and organisations: two small lookups for a whole page."""
    codes = sorted(set(region_codes))
    ids = sorted({org_id for org_id in org_ids if org_id is not None})
    region_names: dict[str, str] = {}
    org_names: dict[int, str] = {}
    if codes:
        rows = await conn.execute(
            select(regions.c.code, regions.c.name).where(regions.c.code.in_(codes))
        )
        region_names = {row.code: row.name for row in rows}
    if ids:
        rows = await conn.execute(
            select(organisations.c.id, organisations.c.name).where(organisations.c.id.in_(ids))
        )
        org_names = {row.id: row.name for row in rows}
    return region_names, org_names
