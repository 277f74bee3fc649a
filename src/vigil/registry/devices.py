"""Physical devices: GB/T 28181 IPCs, NVRs and lower platforms, and plain RTSP cameras.

The per-device SIP password is write-only here: records expose only whether one is set, and
the signalling layer reads it through ``device_sip_password``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import devices, regions, utc_now
from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import TYPE_NAMES, DeviceId
from vigil.registry.errors import (
    ConflictError,
    FieldProblem,
    NotFoundError,
    ScopeError,
    ValidationError,
)
from vigil.registry.field_rules import (
    apply_changes,
    clean_bool,
    clean_device_id,
    clean_int,
    clean_text,
)
from vigil.registry.page import Page, check_page_bounds, fetch_page
from vigil.registry.references import check_org_usable, check_region_registered
from vigil.registry.regions import ancestor_codes, normalise_region_code
from vigil.registry.scope import Scope, region_prefix_clause
from vigil.registry.text_filter import contains_text_clause

DEVICE_KINDS = ("gb28181", "rtsp")
DEVICE_STATUSES = ("active", "pending", "disabled")
TRANSPORTS = ("", "udp", "tcp")
RTSP_SCHEMES = ("rtsp://", "rtsps://")


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    type_code: int  # digits 11-13 of the ID (GB/T 28181 Table D.2)
    type_name: str
    name: str
    kind: str
    status: str
    region_code: str | None
    org_id: int | None
    manufacturer: str
    model: str
    firmware: str
    has_own_password: bool  # False: the platform's default SIP password applies
    rtsp_url: str
    transport: str
    address: str
    online: bool
    last_keepalive_at: datetime | None
    registered_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DeviceFields:
    """What a caller sets on a device. ``sip_password`` None means "leave as it is"."""

    name: str = ""
    kind: str = "gb28181"
    status: str = "active"
    region_code: str | None = None
    org_id: int | None = None
    manufacturer: str = ""
    model: str = ""
    firmware: str = ""
    sip_password: str | None = None
    rtsp_url: str = ""
    transport: str = ""


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    region: str | None = None  # region-code prefix
    org_id: int | None = None
    kind: str | None = None
    status: str | None = None
    online: bool | None = None
    text: str | None = None  # contained in the ID, name or model, ignoring case


def _one_of(choices: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(c or '(empty)' for c in choices)}")
        assert isinstance(value, str)
        return value

    return check


def _clean_fields(fields: DeviceFields) -> DeviceFields:
    checks: dict[str, Any] = {
        "name": lambda v: clean_text(v, 200),
        "kind": _one_of(DEVICE_KINDS),
        "status": _one_of(DEVICE_STATUSES),
        "region_code": lambda v: None if v is None else normalise_region_code(v, "region_code"),
        "org_id": lambda v: None if v is None else clean_int(v, 1, 2**31 - 1),
        "manufacturer": lambda v: clean_text(v, 100),
        "model": lambda v: clean_text(v, 100),
        "firmware": lambda v: clean_text(v, 100),
        "sip_password": lambda v: None if v is None else clean_text(v, 128),
        "rtsp_url": lambda v: clean_text(v, 500),
        "transport": _one_of(TRANSPORTS),
    }
    cleaned: dict[str, Any] = {}
    problems: list[FieldProblem] = []
    for name, value in asdict(fields).items():
        try:
            cleaned[name] = checks[name](value)
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
        except ValidationError as exc:
            problems.extend(exc.problems)
    needs_url = not problems and cleaned["kind"] == "rtsp"
    if needs_url and not cleaned["rtsp_url"].lower().startswith(RTSP_SCHEMES):
        problems.append(FieldProblem("rtsp_url", "an RTSP device needs a rtsp:// URL"))
    if problems:
        raise ValidationError(problems)
    return DeviceFields(**cleaned)


def _device(row: Row[*tuple[Any, ...]]) -> Device:
    values = row._asdict()
    type_code = int(values["id"][10:13])
    values["has_own_password"] = bool(values.pop("sip_password"))
    return Device(type_code=type_code, type_name=TYPE_NAMES.get(type_code, "unknown"), **values)


_COLUMNS = tuple(devices.c)


async def _check_references(conn: AsyncConnection, scope: Scope, fields: DeviceFields) -> None:
    if fields.region_code is not None:
        await check_region_registered(conn, fields.region_code, "region_code")
    if fields.org_id is not None:
        await check_org_usable(conn, scope, fields.org_id, fields.region_code)


async def _default_region(conn: AsyncConnection, parsed: DeviceId) -> str | None:
    """The deepest registered region the ID's centre code lies in, if any."""
    try:
        centre_region = parsed.region_code
    except ParseError:
        return None  # a centre code of zeros names no region
    candidates = [*ancestor_codes(centre_region), centre_region]
    found = (
        await conn.execute(select(regions.c.code).where(regions.c.code.in_(candidates)))
    ).scalars()
    return max(found, key=len, default=None)


async def create_device(
    conn: AsyncConnection, scope: Scope, device_id: str, fields: DeviceFields
) -> Device:
    """Register a device. Without a region, the deepest registered region of its ID is used."""
    try:
        parsed = clean_device_id(device_id)
    except ValueError as exc:
        raise ValidationError.of("id", str(exc)) from None
    clean = _clean_fields(fields)
    if clean.region_code is None:
        clean = DeviceFields(
            **{**asdict(clean), "region_code": await _default_region(conn, parsed)}
        )
    if not scope.covers(clean.region_code, clean.org_id):
        raise ScopeError("the device's region and owner are outside your scope")
    await _check_references(conn, scope, clean)
    if await conn.scalar(select(devices.c.id).where(devices.c.id == parsed.raw)) is not None:
        raise ConflictError(f"device {parsed.raw} is already registered")
    now = utc_now()
    values = asdict(clean)
    values["sip_password"] = values["sip_password"] or ""
    await conn.execute(
        devices.insert().values(id=parsed.raw, **values, created_at=now, updated_at=now)
    )
    return await get_device(conn, scope, parsed.raw)


async def get_device(conn: AsyncConnection, scope: Scope, device_id: str) -> Device:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(devices.c.id == device_id, scope.clause(devices))
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no device {device_id}")
    return _device(row)


async def update_device(
    conn: AsyncConnection, scope: Scope, device_id: str, changes: Mapping[str, object]
) -> Device:
    """Change some fields; ScopeError if the result would lie outside the caller's scope."""
    current = await get_device(conn, scope, device_id)
    base = DeviceFields(
        **{
            name: getattr(current, name)
            for name in DeviceFields.__dataclass_fields__
            if name != "sip_password"
        }
    )
    clean = _clean_fields(apply_changes(base, changes))
    if not scope.covers(clean.region_code, clean.org_id):
        raise ScopeError("the change would move the device outside your scope")
    await _check_references(conn, scope, clean)
    values = asdict(clean)
    if values["sip_password"] is None:
        del values["sip_password"]
    await conn.execute(
        devices.update().where(devices.c.id == device_id).values(**values, updated_at=utc_now())
    )
    return await get_device(conn, scope, device_id)


def _filter_conditions(
    conn: AsyncConnection, scope: Scope, flt: DeviceFilter
) -> list[ColumnElement[bool]]:
    conditions = [scope.clause(devices)]
    if flt.region is not None:
        prefix = normalise_region_code(flt.region, "region")
        conditions.append(region_prefix_clause(devices.c.region_code, prefix))
    if flt.org_id is not None:
        conditions.append(devices.c.org_id == flt.org_id)
    if flt.kind is not None:
        conditions.append(devices.c.kind == flt.kind)
    if flt.status is not None:
        conditions.append(devices.c.status == flt.status)
    if flt.online is not None:
        conditions.append(devices.c.online.is_(clean_bool(flt.online)))
    if flt.text and flt.text.strip():
        columns = [devices.c.id, devices.c.name, devices.c.model]
        conditions.append(contains_text_clause(conn, columns, flt.text.strip()))
    return conditions


async def list_devices(
    conn: AsyncConnection,
    scope: Scope,
    flt: DeviceFilter | None = None,
    *,
    offset: int = 0,
    limit: int = 50,
) -> Page[Device]:
    """Devices in scope matching ``flt``, ordered by ID."""
    check_page_bounds(offset, limit)
    flt = flt or DeviceFilter()
    rows, total = await fetch_page(
        conn,
        devices,
        _filter_conditions(conn, scope, flt),
        devices.c.id,
        offset=offset,
        limit=limit,
        text_search=bool(flt.text and flt.text.strip()),
    )
    return Page(tuple(_device(row) for row in rows), total, offset, limit)


async def delete_device(conn: AsyncConnection, scope: Scope, device_id: str) -> None:
    """Delete a device; its collection points stay in the ledger without a parent device."""
    await get_device(conn, scope, device_id)
    await conn.execute(devices.delete().where(devices.c.id == device_id))


async def device_sip_password(conn: AsyncConnection, device_id: str) -> str | None:
    """The device's own SIP digest password ("" = platform default); None if not registered.

    Unscoped: the signalling layer authenticates devices, not users.
    """
    value = await conn.scalar(select(devices.c.sip_password).where(devices.c.id == device_id))
    return None if value is None else str(value)
