"""Registry benchmark: ledger import, filtered paging, region tree and export at scale.

Builds about 2 000 regions (provinces → cities → counties → stations) and imports 100 000
collection points through the real ledger import, then measures filtered page latency over
~200 varied queries, the region tree, and export. Runs on SQLite (a temporary file) and/or
PostgreSQL (a fresh ``vigil_bench`` database, dropped afterwards)::

    .venv/bin/python bench/registry.py [--rows 100000] [--regions 2000] [--backend both]

Prints figures with the targets beside them; it does not pass or fail.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.db.tables import channels, regions
from vigil.protocols.gb28181.device_id import make_device_id
from vigil.registry.channels import ChannelFilter, list_channels
from vigil.registry.ledger_export import export_ledger
from vigil.registry.ledger_import import import_ledger
from vigil.registry.regions import import_regions, region_tree
from vigil.registry.scope import UNRESTRICTED, Scope
from vigil.settings import RetentionSettings

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1/test"
PG_BENCH_DB = "vigil_bench"
RETENTION = RetentionSettings()
NETWORKS = ["police_video", "social_video", "internet", "wireless"]
STREETS = ["人民路", "解放路", "中山路", "长江路", "黄山路", "萳溪路", "Station Rd", "Bank St"]
RESOLUTIONS = ["1920x1080", "1280x720", "704x576"]
PLACES = ["路口", "学校", "医院", "银行", "车站", "广场", "商场", "gate", "yard"]


@dataclass
class Figures:
    backend: str
    values: dict[str, str] = field(default_factory=dict)

    def put(self, name: str, value: str) -> None:
        self.values[name] = value
        print(f"  [{self.backend}] {name}: {value}", flush=True)


def build_regions(target: int) -> list[tuple[str, str]]:
    """Cities, counties and stations under a few provinces until ``target`` regions exist."""
    rows: list[tuple[str, str]] = []
    for province in ("34", "32", "33", "37", "41", "42", "43", "44"):
        for city in range(1, 6):
            city_code = f"{province}{city:02d}"
            rows.append((city_code, f"市{city_code}"))
            for county in range(1, 11):
                county_code = f"{city_code}{county:02d}"
                rows.append((county_code, f"县{county_code}"))
                for station in range(1, 10):
                    rows.append((f"{county_code}{station:02d}", f"站{county_code}{station:02d}"))
                    if len(rows) + 34 >= target:  # the 34 provinces are seeded by migration
                        return rows
    return rows


def build_ledger(rows: int, region_codes: list[str], seed: int = 7) -> tuple[bytes, int]:
    """A CSV ledger of ``rows`` points spread over the counties and stations; owners included."""
    rng = random.Random(seed)
    leaf_regions = [code for code in region_codes if len(code) >= 6]
    orgs = [(f"ORG{n:04d}", f"单位{n:04d}") for n in range(500)]
    lines = [
        "id,name,region_code,org_code,org_name,point_class,network,resolution,retention_days,"
        "ptz_type,longitude,latitude,address,civil_code,secrecy,manufacturer,model"
    ]
    for serial in range(rows):
        region = leaf_regions[serial % len(leaf_regions)]
        org_code, org_name = orgs[rng.randrange(len(orgs))]
        point_class = rng.choice((1, 2, 3))
        type_code = 132 if serial % 3 else 131
        point = make_device_id(
            region[:8], type_code, serial % 1_000_000, network=serial // 1_000_000
        )
        street = rng.choice(STREETS)
        lines.append(
            f"{point},{street}{rng.choice(PLACES)}{serial},{region},{org_code},{org_name},"
            f"{point_class},{rng.choice(NETWORKS)},{rng.choice(RESOLUTIONS)},"
            f"{rng.choice(('', '', '', '90'))},{rng.randint(1, 4)},"
            f"{118 + rng.random():.6f},{31 + rng.random():.6f},{street}{serial}号,{region},"
            f"{rng.choice(('0', '1'))},Hikvision,DS-{rng.randint(1000, 9999)}"
        )
    return ("\n".join(lines) + "\n").encode("utf-8"), len(orgs)


def random_filters(
    rng: random.Random, region_codes: list[str]
) -> list[tuple[Scope, ChannelFilter]]:
    counties = [code for code in region_codes if len(code) == 6]
    cities = [code for code in region_codes if len(code) == 4]
    stations = [code for code in region_codes if len(code) == 8]
    queries: list[tuple[Scope, ChannelFilter]] = []
    for index in range(200):
        kind = index % 10
        flt: ChannelFilter
        scope = UNRESTRICTED
        if kind == 0:
            flt = ChannelFilter(region=rng.choice(counties))
        elif kind == 1:
            flt = ChannelFilter(region=rng.choice(cities), point_class=rng.choice((1, 2, 3)))
        elif kind == 2:
            flt = ChannelFilter(network=rng.choice(NETWORKS), online=rng.choice((True, False)))
        elif kind == 3:
            flt = ChannelFilter(text=rng.choice(STREETS[:6]) + rng.choice(PLACES[:6]))
        elif kind == 4:
            flt = ChannelFilter(text=str(rng.randrange(100_000)).zfill(5))
        elif kind == 5:
            flt = ChannelFilter(org_id=rng.randint(1, 500))
        elif kind == 6:
            flt = ChannelFilter(region=rng.choice(stations), online=True)
        elif kind == 7:
            flt = ChannelFilter(point_class=1, online=False)
        elif kind == 8:
            scope = Scope(region_prefixes=(rng.choice(counties),))
            flt = ChannelFilter(text=rng.choice(PLACES))
        else:
            flt = ChannelFilter()
        queries.append((scope, flt))
    return queries


async def timed(action: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = await action()
    return time.perf_counter() - start, result


async def run_backend(engine: AsyncEngine, backend: str, args: argparse.Namespace) -> Figures:
    figures = Figures(backend)
    region_rows = build_regions(args.regions)
    async with engine.begin() as conn:
        await import_regions(conn, UNRESTRICTED, region_rows)
        region_count = len((await conn.execute(select(regions.c.code))).all())
    figures.put("regions", str(region_count))

    data, _ = build_ledger(args.rows, [code for code, _ in region_rows])
    async with engine.begin() as conn:
        seconds, report = await timed(
            lambda: import_ledger(conn, UNRESTRICTED, data, retention=RETENTION)
        )
    assert not report.errors, report.errors[:5]
    figures.put("import CSV (new) rows/s", f"{report.rows / seconds:,.0f} ({seconds:.1f} s)")
    async with engine.begin() as conn:
        seconds, report = await timed(
            lambda: import_ledger(conn, UNRESTRICTED, data, retention=RETENTION)
        )
    assert report.unchanged == args.rows, report
    figures.put("import CSV (unchanged) rows/s", f"{report.rows / seconds:,.0f} ({seconds:.1f} s)")

    async with engine.begin() as conn:
        # About two thirds of the points online, for the online filters and tree counts.
        await conn.execute(
            update(channels)
            .where(channels.c.id.like("%0") | channels.c.id.like("%3") | channels.c.id.like("%5")
                   | channels.c.id.like("%7") | channels.c.id.like("%8") | channels.c.id.like("%9"))
            .values(online=True)
        )  # fmt: skip
        if backend == "postgres":
            await conn.exec_driver_sql("ANALYZE")

    rng = random.Random(11)
    codes = [code for code, _ in region_rows]
    latencies: list[float] = []
    async with engine.connect() as conn:
        for scope, flt in random_filters(rng, codes):
            offset = rng.choice((0, 0, 0, 50, 200))
            seconds, _ = await timed(
                lambda scope=scope, flt=flt, offset=offset: list_channels(
                    conn, scope, flt, retention=RETENTION, offset=offset, limit=50
                )
            )
            latencies.append(seconds * 1000)
        latencies.sort()
        p50 = statistics.median(latencies)
        p95 = latencies[int(len(latencies) * 0.95) - 1]
        figures.put("page p50 ms", f"{p50:.1f}")
        figures.put("page p95 ms", f"{p95:.1f}")
        figures.put("page max ms", f"{latencies[-1]:.1f}")

        tree_times = []
        for _ in range(10):
            seconds, _ = await timed(lambda: region_tree(conn, UNRESTRICTED))
            tree_times.append(seconds * 1000)
        figures.put("region tree ms (median of 10)", f"{statistics.median(tree_times):.1f}")
        county_scope = Scope(region_prefixes=("340101",))
        seconds, _ = await timed(lambda: region_tree(conn, county_scope))
        figures.put("region tree, county scope ms", f"{seconds * 1000:.1f}")

        for fmt in ("csv", "xlsx"):
            seconds, exported = await timed(
                lambda fmt=fmt: export_ledger(conn, UNRESTRICTED, fmt=fmt, lang="zh")
            )
            figures.put(
                f"export {fmt.upper()} rows/s", f"{args.rows / seconds:,.0f} ({seconds:.1f} s)"
            )
            if fmt == "xlsx":
                xlsx = exported

    async with engine.begin() as conn:
        seconds, report = await timed(
            lambda: import_ledger(conn, UNRESTRICTED, xlsx, retention=RETENTION)
        )
    assert not report.errors, report.errors[:5]
    assert report.unchanged == args.rows, report
    figures.put("import XLSX (unchanged) rows/s", f"{report.rows / seconds:,.0f} ({seconds:.1f} s)")
    return figures


async def bench_sqlite(args: argparse.Namespace) -> Figures:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade(url)
        engine = create_engine(url)
        try:
            return await run_backend(engine, "sqlite", args)
        finally:
            await engine.dispose()


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def bench_postgres(args: argparse.Namespace) -> Figures:
    await _pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")
    await _pg_admin(f"CREATE DATABASE {PG_BENCH_DB}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1/{PG_BENCH_DB}"
    try:
        await upgrade(url)
        engine = create_engine(url)
        try:
            return await run_backend(engine, "postgres", args)
        finally:
            await engine.dispose()
    finally:
        await _pg_admin(f"DROP DATABASE IF EXISTS {PG_BENCH_DB} WITH (FORCE)")


TARGETS = {
    "import CSV (new) rows/s": "≥ 5,000",
    "import CSV (unchanged) rows/s": "≥ 5,000",
    "page p95 ms": "≤ 50",
    "region tree ms (median of 10)": "≤ 100",
}


def print_table(results: list[Figures], args: argparse.Namespace) -> None:
    names = list(results[0].values)
    width = max(len(name) for name in names) + 2
    print(f"\nRegistry benchmark: {args.rows:,} points, ~{args.regions:,} regions")
    header = f"{'':{width}}" + "".join(f"{figures.backend:>22}" for figures in results)
    print(header + f"{'target':>12}")
    for name in names:
        cells = "".join(f"{figures.values.get(name, '-'):>22}" for figures in results)
        print(f"{name:{width}}{cells}{TARGETS.get(name, ''):>12}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--regions", type=int, default=2_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        results.append(await bench_sqlite(args))
    if args.backend in ("postgres", "both"):
        results.append(await bench_postgres(args))
    print_table(results, args)


if __name__ == "__main__":
    asyncio.run(main())
