"""The seed data the registry tests share: two counties of one city, and their scopes."""

from __future__ import annotations

from vigil.protocols.gb28181.device_id import make_device_id
from vigil.registry.scope import Scope
from vigil.settings import RetentionSettings

COUNTY_A = "340202"
COUNTY_B = "340203"
SCOPE_A = Scope(region_prefixes=(COUNTY_A,))
SCOPE_B = Scope(region_prefixes=(COUNTY_B,))
RETENTION = RetentionSettings()

SEED_REGIONS = [
    ("3402", "芜湖市"),
    (COUNTY_A, "镜湖区"),
    (COUNTY_B, "弋江区"),
    ("34020201", "镜湖 派出所"),
    ("3401", "合肥市"),
    ("340102", "瑶海区"),
]


def point_id(region: str, serial: int, type_code: int = 132) -> str:
    return make_device_id(region, type_code, serial)
