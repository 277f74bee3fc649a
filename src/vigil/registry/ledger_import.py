"""Importing a ledger file: check every row, then write all of it or nothing.

The registry rows the file refers to (regions, owners, devices, existing points) are loaded
once, in a few set-based queries; rows are checked in memory; only then are new owners,
new devices and points written, points as batched INSERT … ON CONFLICT DO UPDATE so that
importing the same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices, organisations, regions, utc_now
from vigil.registry.channel_bulk_upsert import upsert_channel_rows
from vigil.registry.ledger_parser import ParsedLedger, RowError, parse_sheet
from vigil.registry.ledger_reader import LedgerFormat, LedgerLimits, read_ledger
from vigil.registry.ledger_validation import (
    CHANNEL_FIELDS,
    DeviceRef,
    LedgerContext,
    LedgerPlan,
    OrgRef,
    PendingOrg,
    plan_rows,
)
from vigil.registry.scope import Scope
from vigil.settings import RetentionSettings

LOOKUP_CHUNK = 5_000  # IDs per IN (…) list, well under both backends' parameter limits
MAX_LISTED_ERRORS = 1_000  # a report is read by a person; the count says how many in all
ANALYZE_AFTER_ROWS = 5_000  # a bulk load this large makes the planner's statistics stale


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did, or would do.

    The counts describe the checked rows even when there are errors (so a person sees how
    much of the file was fine); ``applied`` says whether anything was written.
    """

    rows: int  # data rows read
    created: int
    updated: int
    unchanged: int
    orgs_created: int
    devices_created: int
    errors: tuple[RowError, ...]  # empty when the import was applied (or would be: dry run)
    error_count: int  # all problems found; ``errors`` lists the first MAX_LISTED_ERRORS
    dry_run: bool = False

    @property
    def applied(self) -> bool:
        return not self.errors and not self.dry_run

    def summary(self) -> dict[str, int | bool]:
        """The counts, for audit records, API answers and the command line."""
        return {
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "orgs_created": self.orgs_created,
            "devices_created": self.devices_created,
            "dry_run": self.dry_run,
        }


def _chunks(items: Sequence[str], size: int = LOOKUP_CHUNK) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _ids_in(parsed: ParsedLedger, key: str) -> list[str]:
    """Distinct well-formed 20-digit values of ``key`` (others cannot match anything)."""
    found = {
        value
        for row in parsed.rows
        if isinstance(value := row.values.get(key), str) and len(value) == 20 and value.isdigit()
    }
    return sorted(found)


async def load_context(
    conn: AsyncConnection, scope: Scope, retention: RetentionSettings, parsed: ParsedLedger
) -> LedgerContext:
    """Preload what the file's rows refer to, in a handful of set-based queries."""
    region_codes = set((await conn.execute(select(regions.c.code))).scalars())
    orgs_by_code: dict[str, OrgRef] = {}
    codes_by_name: dict[str, list[str]] = {}
    org_rows = await conn.execute(
        select(
            organisations.c.id,
            organisations.c.code,
            organisations.c.name,
            organisations.c.region_code,
        )
    )
    for org_id, code, name, region_code in org_rows:
        orgs_by_code[code] = OrgRef(org_id, code, region_code)
        codes_by_name.setdefault(name, []).append(code)

    existing: dict[str, dict[str, Any]] = {}
    stored = [channels.c[name] for name in CHANNEL_FIELDS]
    for chunk in _chunks(_ids_in(parsed, "id")):
        result = await conn.execute(select(channels.c.id, *stored).where(channels.c.id.in_(chunk)))
        for row in result:
            values = row._asdict()
            existing[values.pop("id")] = values

    known_devices: dict[str, DeviceRef] = {}
    for chunk in _chunks(_ids_in(parsed, "device_id")):
        result = await conn.execute(
            select(devices.c.id, devices.c.region_code, devices.c.org_id).where(
                devices.c.id.in_(chunk)
            )
        )
        for device_id, region_code, org_id in result:
            known_devices[device_id] = DeviceRef(region_code, org_id)

    return LedgerContext(
        scope=scope,
        retention=retention,
        regions=region_codes,
        orgs_by_code=orgs_by_code,
        org_codes_by_name=codes_by_name,
        devices=known_devices,
        existing=existing,
    )


async def apply_plan(conn: AsyncConnection, plan: LedgerPlan, now: datetime) -> None:
    """Write a checked plan: new owners, then new devices, then points."""
    org_ids: dict[str, int] = {}
    if plan.new_orgs:
        await conn.execute(
            organisations.insert(),
            [
                {
                    "code": org.code,
                    "name": org.name,
                    "industry_code": org.industry_code,
                    "region_code": org.region_code,
                    "contact_name": "",
                    "contact_phone": "",
                    "sla_notes": "",
                    "created_at": now,
                    "updated_at": now,
                }
                for org in plan.new_orgs.values()
            ],
        )
        for chunk in _chunks(sorted(plan.new_orgs)):
            result = await conn.execute(
                select(organisations.c.code, organisations.c.id).where(
                    organisations.c.code.in_(chunk)
                )
            )
            for code, org_id in result:
                org_ids[code] = org_id

    def resolve(org: int | PendingOrg | None) -> int | None:
        return org_ids[org.code] if isinstance(org, PendingOrg) else org

    if plan.new_devices:
        await conn.execute(
            devices.insert(),
            [
                {
                    "id": device.id,
                    "name": "",
                    "kind": "gb28181",
                    "status": "active",
                    "region_code": device.region_code,
                    "org_id": resolve(device.org),
                    "manufacturer": "",
                    "model": "",
                    "firmware": "",
                    "sip_password": "",
                    "rtsp_url": "",
                    "transport": "",
                    "address": "",
                    "online": False,
                    "created_at": now,
                    "updated_at": now,
                }
                for device in plan.new_devices.values()
            ],
        )

    template = dict(CHANNEL_FIELDS)
    rows = []
    for record in plan.records:
        row = {**template, **record}
        if org_ids:
            row["org_id"] = resolve(row["org_id"])
        rows.append(row)
    await upsert_channel_rows(conn, rows, plan.columns, now, new_ids=plan.new_ids)


async def import_ledger(
    conn: AsyncConnection,
    scope: Scope,
    data: bytes,
    *,
    retention: RetentionSettings,
    fmt: LedgerFormat | None = None,
    dry_run: bool = False,
    limits: LedgerLimits | None = None,
) -> ImportReport:
    """Check every row of a CSV or XLSX ledger, then apply it in the caller's transaction.

    Nothing is written when any row has a problem, or on a ``dry_run``; the report lists the
    problems (row, column header, reason) and what was, or would be, created or changed.
    Raises LedgerError only when the file as a whole cannot be read.
    """
    limits = limits or LedgerLimits()
    parsed = parse_sheet(read_ledger(data, fmt, limits), limits)
    if conn.dialect.name == "postgresql":
        # The lookups repeat one statement per chunk of IDs. After five runs PostgreSQL may
        # switch a prepared statement to a generic plan costed on what the table held then
        # (on an empty table, a sequential scan), which turns the next large import's lookups
        # into minutes; planning each run for its own parameters avoids that trap.
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    context = await load_context(conn, scope, retention, parsed)
    plan = plan_rows(parsed, context)
    if not plan.errors and not dry_run:
        await apply_plan(conn, plan, utc_now())
        if len(plan.records) >= ANALYZE_AFTER_ROWS:
            # Without fresh statistics SQLite takes the boolean ``online`` index for a
            # selective one and both backends misjudge region ranges, slowing every page.
            await conn.exec_driver_sql("ANALYZE channels")
    return ImportReport(
        rows=plan.rows,
        created=plan.created,
        updated=plan.updated,
        unchanged=plan.unchanged,
        orgs_created=len(plan.new_orgs),
        devices_created=len(plan.new_devices),
        errors=tuple(plan.errors[:MAX_LISTED_ERRORS]),
        error_count=len(plan.errors),
        dry_run=dry_run,
    )
