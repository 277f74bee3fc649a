"""Checking every row of a ledger before anything is written.

Two pure stages, so the whole check runs without a database: ``parse_sheet`` (in
``ledger_parser``) maps headers to ledger columns and reads every cell; ``plan_rows`` checks
each row against what is already registered (a ``LedgerContext`` preloaded in memory: no
query per row) and decides, per point, create / update / leave unchanged. Every problem
becomes a RowError naming the spreadsheet row and the column header as written in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import significant_region_code
from vigil.registry.field_rules import (
    clean_civil_code,
    clean_coordinate,
    clean_device_id,
    clean_point_id,
    clean_retention_override,
    is_hd_resolution,
)
from vigil.registry.ledger_columns import REQUIRED_KEYS
from vigil.registry.ledger_parser import ParsedLedger, ParsedRow, RowError
from vigil.registry.organisations import INDUSTRY_NAMES
from vigil.registry.references import may_reference
from vigil.registry.scope import Scope
from vigil.settings import RetentionSettings


@dataclass(frozen=True, slots=True)
class OrgRef:
    id: int
    code: str
    region_code: str | None


@dataclass(frozen=True, slots=True)
class DeviceRef:
    region_code: str | None
    org_id: int | None


@dataclass(frozen=True, slots=True)
class PendingOrg:
    """An owner the import will create; stands in for its id until it has one."""

    code: str


@dataclass(slots=True)
class LedgerContext:
    """What is already registered, preloaded for the rows of one file."""

    scope: Scope
    retention: RetentionSettings
    regions: set[str]
    orgs_by_code: dict[str, OrgRef]
    org_codes_by_name: dict[str, list[str]]
    devices: dict[str, DeviceRef]
    existing: dict[str, dict[str, Any]]  # point ID → stored values of CHANNEL_FIELDS


# Stored columns of a point that a ledger can set, with the value a blank cell stands for.
CHANNEL_FIELDS: dict[str, Any] = {
    "name": "",
    "region_code": None,
    "org_id": None,
    "point_class": 3,
    "network": "police_video",
    "resolution": "",
    "hd": False,
    "retention_days": None,
    "ptz_type": None,
    "longitude": None,
    "latitude": None,
    "address": "",
    "civil_code": "",
    "secrecy": False,
    "device_id": None,
    "manufacturer": "",
    "model": "",
}
_PLAIN_KEYS = (
    "network", "resolution", "ptz_type", "address", "secrecy", "manufacturer", "model",
)  # fmt: skip


@dataclass(slots=True)
class NewOrganisation:
    code: str
    name: str
    industry_code: str
    region_code: str
    first_row: int


@dataclass(slots=True)
class NewDevice:
    id: str
    region_code: str
    org: int | PendingOrg | None


@dataclass(slots=True)
class LedgerPlan:
    rows: int
    columns: tuple[str, ...]  # CHANNEL_FIELDS the file sets (others are left as stored)
    records: list[dict[str, Any]]  # points to create or update; org_id may be a PendingOrg
    new_ids: set[str] = field(default_factory=set)  # the records that create a point
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_orgs: dict[str, NewOrganisation] = field(default_factory=dict)
    new_devices: dict[str, NewDevice] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)


def file_columns(headers: dict[str, str]) -> tuple[str, ...]:
    """The stored point columns a file with these ledger columns sets."""
    keys = set(headers)
    columns = [key for key in CHANNEL_FIELDS if key in keys]
    if keys & {"org_code", "org_name"}:
        columns.append("org_id")
    if keys & {"hd", "resolution"} and "hd" not in columns:
        columns.append("hd")
    return tuple(columns)


def plan_rows(parsed: ParsedLedger, context: LedgerContext) -> LedgerPlan:
    """Check every row against the registry and decide what to write."""
    plan = LedgerPlan(rows=len(parsed.rows), columns=file_columns(parsed.headers), records=[])
    plan.errors.extend(parsed.errors)
    if not parsed.usable:
        return plan
    planner = _RowPlanner(parsed.headers, context, plan)
    for row in parsed.rows:
        planner.check(row)
    plan.errors.sort(key=lambda error: error.row)
    return plan


class _RowPlanner:
    def __init__(self, headers: dict[str, str], context: LedgerContext, plan: LedgerPlan) -> None:
        self.headers = headers
        self.context = context
        self.plan = plan
        self.first_row_of: dict[str, int] = {}
        self.new_org_names: dict[str, tuple[str, int]] = {}

    def error(self, row: ParsedRow, key: str, reason: str) -> None:
        self.plan.errors.append(RowError(row.number, self.headers.get(key, key), reason))

    def check(self, row: ParsedRow) -> None:
        values = row.values
        failures = len(self.plan.errors)
        for key in REQUIRED_KEYS:
            if values.get(key) is None and key not in row.bad:
                self.error(row, key, "is empty; a value is required")
        point_id = self._point_id(row)
        region = self._region(row)
        org = self._organisation(row, region)
        scope = self.context.scope
        owner = org if isinstance(org, int) else None  # a new owner widens no scope
        if region is not None and not scope.covers(region, owner):
            self.error(row, "region_code", f"region {region} is outside your scope")
        existing = self.context.existing.get(point_id) if point_id else None
        if existing is not None and not scope.covers(existing["region_code"], existing["org_id"]):
            self.error(
                row, "id", f"{point_id} is registered outside your scope and cannot be changed"
            )
        record = self._record(row, region, org, existing)
        if len(self.plan.errors) > failures or point_id is None:
            return
        if existing is None:
            self.plan.created += 1
            self.plan.new_ids.add(point_id)
        elif any(record[column] != existing[column] for column in self.plan.columns):
            self.plan.updated += 1
        else:
            self.plan.unchanged += 1
            return
        record["id"] = point_id
        self.plan.records.append(record)

    def _point_id(self, row: ParsedRow) -> str | None:
        raw = row.values.get("id")
        if raw is None:
            return None
        try:
            point_id = clean_point_id(raw).raw
        except ValueError as exc:
            self.error(row, "id", str(exc))
            return None
        first = self.first_row_of.setdefault(point_id, row.number)
        if first != row.number:
            self.error(row, "id", f"{point_id} is listed twice: on rows {first} and {row.number}")
            return None
        return point_id

    def _region(self, row: ParsedRow) -> str | None:
        raw = row.values.get("region_code")
        if raw is None:
            return None
        try:
            region = significant_region_code(raw)
        except ParseError as exc:
            self.error(row, "region_code", str(exc))
            return None
        if region not in self.context.regions:
            self.error(row, "region_code", f"region {region} is not registered")
            return None
        return region

    def _organisation(self, row: ParsedRow, region: str | None) -> int | PendingOrg | None:
        code = row.values.get("org_code")
        name = row.values.get("org_name")
        context = self.context
        if code is not None:
            known = context.orgs_by_code.get(code)
            # A name beside a known code is only a reminder: the registered name stands
            # (ledgers abbreviate), and renaming an owner is an edit of its own.
            if known is not None:
                if region is not None and not may_reference(
                    context.scope, known.region_code, known.id, region
                ):
                    self.error(row, "org_code", f"no organisation with code {code} you may use")
                return known.id
            if name is None:
                self.error(
                    row,
                    "org_code",
                    f"organisation {code} is not registered; give its name in the "
                    f"{self.headers.get('org_name', 'org_name (建设单位)')} column to create it",
                )
                return None
            return self._pending_org(row, code, name, region)
        if name is not None:
            codes = context.org_codes_by_name.get(name, [])
            if len(codes) == 1:
                return self._organisation_by_code(row, codes[0], region)
            reason = (
                f"several organisations are named {name!r}; give the code"
                if codes
                else f"no organisation is named {name!r}; give its code to create it"
            )
            self.error(row, "org_name", reason)
        return None

    def _organisation_by_code(self, row: ParsedRow, code: str, region: str | None) -> int | None:
        known = self.context.orgs_by_code[code]
        if region is not None and not may_reference(
            self.context.scope, known.region_code, known.id, region
        ):
            self.error(row, "org_name", f"no organisation named {row.values['org_name']!r}")
            return None
        return known.id

    def _pending_org(
        self, row: ParsedRow, code: str, name: str, region: str | None
    ) -> PendingOrg | None:
        if len(code) > 32:
            self.error(row, "org_code", "has more than 32 characters")
            return None
        seen = self.new_org_names.setdefault(code, (name, row.number))
        if seen[0] != name:
            self.error(
                row,
                "org_name",
                f"organisation {code} is named {seen[0]!r} on row {seen[1]} and {name!r} here",
            )
            return None
        if code not in self.plan.new_orgs and region is not None:
            raw_id = row.values.get("id") or ""
            industry = raw_id[8:10] if len(raw_id) == 20 else "00"
            self.plan.new_orgs[code] = NewOrganisation(
                code=code,
                name=name,
                industry_code=industry if industry in INDUSTRY_NAMES else "00",
                region_code=region,
                first_row=row.number,
            )
        return PendingOrg(code)

    def _record(
        self,
        row: ParsedRow,
        region: str | None,
        org: int | PendingOrg | None,
        existing: dict[str, Any] | None,
    ) -> dict[str, Any]:
        values = row.values
        record: dict[str, Any] = {"name": values.get("name"), "region_code": region}
        point_class = values.get("point_class")
        record["point_class"] = point_class
        for key in _PLAIN_KEYS:
            if key in self.headers:
                value = values.get(key)
                record[key] = CHANNEL_FIELDS[key] if value is None else value
        if "org_id" in self.plan.columns:
            record["org_id"] = org
        if "hd" in self.plan.columns:
            record["hd"] = self._hd(values, existing)
        if "retention_days" in self.headers:
            record["retention_days"] = self._retention(row, point_class)
        for key, limit_deg in (("longitude", 180.0), ("latitude", 90.0)):
            if key in self.headers and values.get(key) is not None:
                try:
                    record[key] = clean_coordinate(values[key], limit_deg)
                except ValueError as exc:
                    self.error(row, key, str(exc))
            elif key in self.headers:
                record[key] = None
        if "civil_code" in self.headers:
            try:
                record["civil_code"] = clean_civil_code(values.get("civil_code") or "")
            except ValueError as exc:
                self.error(row, "civil_code", str(exc))
        if "device_id" in self.headers:
            record["device_id"] = self._device(row, region, org)
        return record

    def _hd(self, values: dict[str, Any], existing: dict[str, Any] | None) -> bool:
        explicit = values.get("hd")
        if explicit is not None:
            return bool(explicit)
        if "resolution" in self.headers:
            resolution = values.get("resolution") or ""
        else:
            resolution = existing["resolution"] if existing else ""
        return is_hd_resolution(resolution)

    def _retention(self, row: ParsedRow, point_class: int | None) -> int | None:
        days = row.values.get("retention_days")
        if days is None or point_class is None:
            return None
        try:
            minimum = self.context.retention.days_for_class(point_class)
            return clean_retention_override(days, point_class, minimum)
        except ValueError as exc:
            self.error(row, "retention_days", str(exc))
            return None

    def _device(
        self, row: ParsedRow, region: str | None, org: int | PendingOrg | None
    ) -> str | None:
        raw = row.values.get("device_id")
        if raw is None:
            return None
        try:
            device_id = clean_device_id(raw).raw
        except ValueError as exc:
            self.error(row, "device_id", str(exc))
            return None
        known = self.context.devices.get(device_id)
        if known is not None:
            if region is not None and not may_reference(
                self.context.scope, known.region_code, known.org_id, region
            ):
                self.error(row, "device_id", f"no device {device_id} you may use")
            return device_id
        if region is not None and device_id not in self.plan.new_devices:
            self.plan.new_devices[device_id] = NewDevice(device_id, region, org)
        return device_id
