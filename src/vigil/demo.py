"""The demo ledger: two counties of Wuhu (芜湖) with police, school, hospital and bank points.

Built as a real ledger file and loaded through the ordinary import, so the demo exercises
the same validation and upsert path as an operator's spreadsheet.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.access.audit import append as audit_append
from vigil.access.audit_key import load_or_create_audit_key
from vigil.db.tables import channels
from vigil.protocols.gb28181.device_id import make_device_id
from vigil.registry.errors import RegistryError
from vigil.registry.ledger_import import import_ledger
from vigil.registry.regions import import_regions
from vigil.registry.scope import UNRESTRICTED
from vigil.settings import Settings

REGIONS = [
    ("3402", "芜湖市"),
    ("340202", "镜湖区"),
    ("340207", "鸠江区"),
    ("34020201", "镜湖区中山路派出所"),
    ("34020701", "鸠江区湾里派出所"),
]

# (county, org code, org name, class, network, resolution, place names)
_OWNERS = [
    ("340202", "JH-PSB", "镜湖区公安分局", 1, "police_video", "1920x1080",
     ["中山路与北京路交叉口", "镜湖公园东门", "汽车站广场", "步行街北口"]),
    ("340202", "WH-SCH1", "芜湖市第一中学", 2, "social_video", "1920x1080",
     ["校门口", "操场", "教学楼走廊"]),
    ("340202", "WH-HOSP2", "芜湖市第二人民医院", 2, "social_video", "1280x720",
     ["急诊入口", "门诊大厅", "停车场"]),
    ("340207", "JJ-PSB", "鸠江区公安分局", 1, "police_video", "1920x1080",
     ["长江大桥引桥", "火车站南广场", "湾里路口", "万达广场"]),
    ("340207", "WH-BANK1", "工商银行鸠江支行", 2, "social_video", "1280x720",
     ["营业厅", "自助银行", "金库通道"]),
    ("340207", "JJ-SHOP", "鸠江区沿街商户", 3, "internet", "704x576",
     ["便利店门口", "药店门口"]),
]  # fmt: skip

_HEADERS = [
    "id", "name", "region_code", "org_code", "org_name", "point_class", "network",
    "resolution", "longitude", "latitude", "address",
]  # fmt: skip


def demo_ledger_csv() -> bytes:
    """The demo ledger as a UTF-8 CSV with English headers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_HEADERS)
    serial = 1
    for county, org_code, org_name, point_class, network, resolution, places in _OWNERS:
        for index, place in enumerate(places):
            for camera in (1, 2):
                writer.writerow(
                    [
                        make_device_id(county, 131, serial),
                        f"{place} {camera}号",
                        county,
                        org_code,
                        org_name,
                        point_class,
                        network,
                        resolution,
                        f"{118.35 + 0.01 * index + 0.001 * serial:.5f}",
                        f"{31.33 + 0.01 * index:.5f}",
                        f"芜湖市{place}",
                    ]
                )
                serial += 1
    return out.getvalue().encode("utf-8")


async def seed_demo_ledger(engine: AsyncEngine, settings: Settings) -> int:
    """Load the demo ledger into an empty database; return how many points were created."""
    async with engine.begin() as conn:
        existing = (await conn.execute(select(func.count()).select_from(channels))).scalar_one()
        if existing:
            return 0
        await import_regions(conn, UNRESTRICTED, REGIONS)
        report = await import_ledger(
            conn, UNRESTRICTED, demo_ledger_csv(), retention=settings.retention
        )
        if report.errors:
            raise RegistryError(f"demo ledger rejected: {report.errors[0]}")
        await audit_append(
            conn,
            load_or_create_audit_key(settings.data_dir.resolve()),
            at=datetime.now(UTC),
            actor="system",
            action="ledger.import",
            target="demo-ledger.csv",
            detail=report.summary(),
        )
        return int(report.created)
