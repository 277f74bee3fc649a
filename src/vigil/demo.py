"""The demo: two counties of Wuhu (芜湖) with police, school, hospital and bank points, and
simulated NVRs that register over GB/T 28181 and bring those points online.

The ledger is built as a real ledger file and loaded through the ordinary import, so the
demo exercises the same validation and upsert path as an operator's spreadsheet. Each place
has two cameras on one NVR; the IDs follow the simulator's numbering (NVR serial n owns
channel serials 2n-1 and 2n), so the simulated catalogs land on the ledger's points. One
NVR at a time is switched off and on again, so online states visibly change.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import random
from collections.abc import Callable, Coroutine
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
from vigil.signaling.server import SignalingServer
from vigil.sim.config import SimConfig
from vigil.sim.simulator import Simulator

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
    "resolution", "longitude", "latitude", "address", "device_id",
]  # fmt: skip

CHANNELS_PER_NVR = 2
NVR_TYPE = 118  # GB/T 28181-2016 Table D.2
CAMERA_TYPE = 131
DEMO_KEEPALIVE_S = 5.0  # short, so an NVR switched off shows offline within seconds
CHURN_EVERY_S = 20.0
CHURN_OFF_S = 30.0

logger = logging.getLogger(__name__)


def demo_nvr_counts() -> dict[str, int]:
    """How many NVRs each demo county has: one per place."""
    counts: dict[str, int] = {}
    for county, *_rest, places in _OWNERS:
        counts[county] = counts.get(county, 0) + len(places)
    return counts


def demo_ledger_csv() -> bytes:
    """The demo ledger as a UTF-8 CSV with English headers."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(_HEADERS)
    nvr_serial: dict[str, int] = {}
    for county, org_code, org_name, point_class, network, resolution, places in _OWNERS:
        for index, place in enumerate(places):
            nvr = nvr_serial[county] = nvr_serial.get(county, 0) + 1
            for camera in range(1, CHANNELS_PER_NVR + 1):
                serial = (nvr - 1) * CHANNELS_PER_NVR + camera
                writer.writerow(
                    [
                        make_device_id(county, CAMERA_TYPE, serial),
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
                        make_device_id(county, NVR_TYPE, nvr),
                    ]
                )
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


DemoComponent = Callable[[SignalingServer], Coroutine[object, object, None]]


def demo_simulators(settings: Settings) -> list[DemoComponent]:
    """One simulator per county, run beside the platform once signalling listens."""

    def county_simulator(county: str, nvrs: int) -> DemoComponent:
        async def run(signaling: SignalingServer) -> None:
            host = settings.sip.host
            config = SimConfig(
                platform_host="127.0.0.1" if host in ("0.0.0.0", "::") else host,  # noqa: S104
                platform_port=signaling.port,
                platform_id=settings.sip.id,
                domain=settings.sip.domain,
                devices=nvrs,
                channels=CHANNELS_PER_NVR,
                password=settings.sip.password,
                region=county,
                keepalive_s=settings.sip.keepalive_interval_s,
                retry_s=DEMO_KEEPALIVE_S,
                retry_max_s=4 * DEMO_KEEPALIVE_S,
                seed=int(county),
            )
            simulator = Simulator(config)
            async with asyncio.TaskGroup() as group:
                group.create_task(simulator.run())
                group.create_task(_churn(simulator, random.Random(int(county))))

        return run

    return [county_simulator(county, n) for county, n in demo_nvr_counts().items()]


async def _churn(simulator: Simulator, chooser: random.Random) -> None:
    """Switch one NVR off and, a little later, on again: the live view of a real network."""
    await simulator.wait_registered(timeout_s=120.0)
    while True:
        await asyncio.sleep(CHURN_EVERY_S)
        device_id = chooser.choice(sorted(simulator.devices))
        device = simulator.device(device_id)
        logger.info("demo: switching %s off for %.0f s", device_id, CHURN_OFF_S)
        device.stop()
        await asyncio.sleep(CHURN_OFF_S)
        device.start()
