"""A migrated database (SQLite and PostgreSQL) seeded with a small city of two counties.

Regions: province 34 (seeded by migration 0002), city 3402, counties 340202 (A) and 340203
(B), a station 34020201 in A, and city 3401 with county 340102. Owners: ORG-A in county A,
ORG-B in county B.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.registry.organisations import OrganisationFields, create_organisation
from vigil.registry.regions import import_regions
from vigil.registry.scope import UNRESTRICTED

from .seed import COUNTY_A, COUNTY_B, SEED_REGIONS


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction, on a database holding the seed regions and owners."""
    async with engine.begin() as connection:
        await import_regions(connection, UNRESTRICTED, SEED_REGIONS)
        await create_organisation(
            connection,
            UNRESTRICTED,
            OrganisationFields(code="ORG-A", name="镜湖区公安分局", region_code=COUNTY_A),
        )
        await create_organisation(
            connection,
            UNRESTRICTED,
            OrganisationFields(
                code="ORG-B", name="弋江区第一中学", industry_code="11", region_code=COUNTY_B
            ),
        )
        yield connection
