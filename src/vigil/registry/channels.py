"""Collection points (图像采集点): one per camera channel, the unit of the ledger.

Every point has a class (REQUIREMENTS R1) that sets its minimum storage period; a point may
override the period upwards, never below its class minimum. ``retention_days`` on a record is
the period in force, ``retention_override`` the stored override (None: the class default).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, utc_now
from vigil.registry.errors import (
    ConflictError,
    FieldProblem,
    NotFoundError,
    ScopeError,
    ValidationError,
)
from vigil.registry.field_rules import (
    NETWORKS,
    apply_changes,
    clean_bool,
    clean_civil_code,
    clean_coordinate,
    clean_device_id,
    clean_int,
    clean_network,
    clean_point_id,
    clean_resolution,
    clean_retention_override,
    clean_text,
    is_hd_resolution,
)
from vigil.registry.page import Page, check_page_bounds, fetch_page
from vigil.registry.references import (
    check_device_usable,
    check_org_usable,
    check_region_registered,
)
from vigil.registry.regions import normalise_region_code
from vigil.registry.scope import Scope, region_prefix_clause
from vigil.registry.text_filter import contains_text_clause
from vigil.settings import RetentionSettings

MAX_NAME_CHARS = 200
MAX_ADDRESS_CHARS = 200
MAX_VENDOR_CHARS = 100


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    device_id: str | None
    name: str
    region_code: str
    org_id: int | None
    point_class: int  # 1, 2 or 3
    network: str  # police_video | social_video | internet | wireless
    resolution: str  # "1920x1080", or "" when unknown
    hd: bool
    retention_days: int  # in force: the override, else the class default
    retention_override: int | None
    ptz_type: int | None
    longitude: float | None
    latitude: float | None
    address: str
    civil_code: str
    secrecy: bool
    manufacturer: str
    model: str
    online: bool
    status_changed_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ChannelFields:
    """What a caller sets on a point. ``hd`` None means "derive it from the resolution"."""

    name: str
    region_code: str
    point_class: int = 3
    device_id: str | None = None
    org_id: int | None = None
    network: str = "police_video"
    resolution: str = ""
    hd: bool | None = None
    retention_override: int | None = None
    ptz_type: int | None = None
    longitude: float | None = None
    latitude: float | None = None
    address: str = ""
    civil_code: str = ""
    secrecy: bool = False
    manufacturer: str = ""
    model: str = ""


@dataclass(frozen=True, slots=True)
class ChannelFilter:
    region: str | None = None  # region-code prefix, any of its 2/4/6/8-digit spellings
    org_id: int | None = None
    point_class: int | None = None
    network: str | None = None
    online: bool | None = None
    device_id: str | None = None
    text: str | None = None  # contained in the ID, name or address, ignoring case


def clean_channel_fields(fields: ChannelFields, retention: RetentionSettings) -> ChannelFields:
    """Check every field and return the cleaned values, with ``hd`` resolved to a bool."""
    problems: list[FieldProblem] = []
    cleaned: dict[str, Any] = {}

    def check(name: str, rule: Any) -> None:
        try:
            cleaned[name] = rule(getattr(fields, name))
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
        except ValidationError as exc:
            problems.extend(exc.problems)

    check("name", lambda v: clean_text(v, MAX_NAME_CHARS, required=True))
    check("region_code", lambda v: normalise_region_code(clean_text(v, 8), "region_code"))
    check("point_class", lambda v: clean_int(v, 1, 3))
    check("device_id", lambda v: None if v is None else clean_device_id(v).raw)
    check("org_id", lambda v: None if v is None else clean_int(v, 1, 2**31 - 1))
    check("network", clean_network)
    check("resolution", clean_resolution)
    check("hd", lambda v: None if v is None else clean_bool(v))
    check("ptz_type", lambda v: None if v is None else clean_int(v, 1, 7))
    check("longitude", lambda v: None if v is None else clean_coordinate(v, 180.0))
    check("latitude", lambda v: None if v is None else clean_coordinate(v, 90.0))
    check("address", lambda v: clean_text(v, MAX_ADDRESS_CHARS))
    check("civil_code", clean_civil_code)
    check("secrecy", clean_bool)
    check("manufacturer", lambda v: clean_text(v, MAX_VENDOR_CHARS))
    check("model", lambda v: clean_text(v, MAX_VENDOR_CHARS))
    point_class = cleaned.get("point_class")
    if point_class is not None:
        minimum = retention.days_for_class(point_class)
        check(
            "retention_override",
            lambda v: None if v is None else clean_retention_override(v, point_class, minimum),
        )
    if problems:
        raise ValidationError(problems)
    if cleaned["hd"] is None:
        cleaned["hd"] = is_hd_resolution(cleaned["resolution"])
    return ChannelFields(**cleaned)


def channel_from_row(row: Row[*tuple[Any, ...]], retention: RetentionSettings) -> Channel:
    values = row._asdict()
    override = values.pop("retention_days")
    effective = (
        override if override is not None else retention.days_for_class(values["point_class"])
    )
    return Channel(retention_days=effective, retention_override=override, **values)


_COLUMNS = tuple(channels.c)


def _row_values(clean: ChannelFields) -> dict[str, Any]:
    values = asdict(clean)
    values["retention_days"] = values.pop("retention_override")
    return values


async def _check_references(conn: AsyncConnection, scope: Scope, clean: ChannelFields) -> None:
    await check_region_registered(conn, clean.region_code, "region_code")
    if clean.org_id is not None:
        await check_org_usable(conn, scope, clean.org_id, clean.region_code)
    if clean.device_id is not None:
        await check_device_usable(conn, scope, clean.device_id, clean.region_code, "device_id")


async def create_channel(
    conn: AsyncConnection,
    scope: Scope,
    channel_id: str,
    fields: ChannelFields,
    *,
    retention: RetentionSettings,
) -> Channel:
    """Register a collection point; ScopeError unless its region or owner is in scope."""
    try:
        point_id = clean_point_id(channel_id).raw
    except ValueError as exc:
        raise ValidationError.of("id", str(exc)) from None
    clean = clean_channel_fields(fields, retention)
    if not scope.covers(clean.region_code, clean.org_id):
        raise ScopeError("the point's region and owner are outside your scope")
    await _check_references(conn, scope, clean)
    if await conn.scalar(select(channels.c.id).where(channels.c.id == point_id)) is not None:
        raise ConflictError(f"collection point {point_id} is already registered")
    now = utc_now()
    await conn.execute(
        channels.insert().values(id=point_id, **_row_values(clean), created_at=now, updated_at=now)
    )
    return await get_channel(conn, scope, point_id, retention=retention)


async def get_channel(
    conn: AsyncConnection, scope: Scope, channel_id: str, *, retention: RetentionSettings
) -> Channel:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(channels.c.id == channel_id, scope.clause(channels))
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no collection point {channel_id}")
    return channel_from_row(row, retention)


async def update_channel(
    conn: AsyncConnection,
    scope: Scope,
    channel_id: str,
    changes: Mapping[str, object],
    *,
    retention: RetentionSettings,
) -> Channel:
    """Change some fields (names as in ChannelFields).

    A new resolution without an explicit ``hd`` re-derives ``hd``. ScopeError if the result
    would lie outside the caller's scope.
    """
    current = await get_channel(conn, scope, channel_id, retention=retention)
    base = ChannelFields(**{f.name: getattr(current, f.name) for f in fields(ChannelFields)})
    merged = apply_changes(base, changes)
    if "resolution" in changes and "hd" not in changes:
        merged = apply_changes(merged, {"hd": None})
    clean = clean_channel_fields(merged, retention)
    if not scope.covers(clean.region_code, clean.org_id):
        raise ScopeError("the change would move the point outside your scope")
    await _check_references(conn, scope, clean)
    await conn.execute(
        channels.update()
        .where(channels.c.id == channel_id)
        .values(**_row_values(clean), updated_at=utc_now())
    )
    return await get_channel(conn, scope, channel_id, retention=retention)


def channel_filter_conditions(
    conn: AsyncConnection, scope: Scope, flt: ChannelFilter
) -> list[ColumnElement[bool]]:
    """SQL conditions for the points in ``scope`` matching ``flt`` (ValidationError if bad)."""
    conditions = [scope.clause(channels)]
    problems: list[FieldProblem] = []
    if flt.region is not None:
        try:
            prefix = normalise_region_code(flt.region, "region")
            conditions.append(region_prefix_clause(channels.c.region_code, prefix))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if flt.org_id is not None:
        conditions.append(channels.c.org_id == flt.org_id)
    if flt.point_class is not None:
        if flt.point_class in (1, 2, 3):
            conditions.append(channels.c.point_class == flt.point_class)
        else:
            problems.append(FieldProblem("point_class", "must be 1, 2 or 3"))
    if flt.network is not None:
        if flt.network in NETWORKS:
            conditions.append(channels.c.network == flt.network)
        else:
            problems.append(FieldProblem("network", f"must be one of {', '.join(NETWORKS)}"))
    if flt.online is not None:
        conditions.append(channels.c.online.is_(bool(flt.online)))
    if flt.device_id is not None:
        conditions.append(channels.c.device_id == flt.device_id)
    if flt.text and flt.text.strip():
        columns = [channels.c.id, channels.c.name, channels.c.address]
        conditions.append(contains_text_clause(conn, columns, flt.text.strip()))
    if problems:
        raise ValidationError(problems)
    return conditions


async def list_channels(
    conn: AsyncConnection,
    scope: Scope,
    flt: ChannelFilter | None = None,
    *,
    retention: RetentionSettings,
    offset: int = 0,
    limit: int = 50,
) -> Page[Channel]:
    """Points in scope matching ``flt``, ordered by ID."""
    check_page_bounds(offset, limit)
    flt = flt or ChannelFilter()
    conditions = channel_filter_conditions(conn, scope, flt)
    rows, total = await fetch_page(
        conn,
        channels,
        conditions,
        channels.c.id,
        offset=offset,
        limit=limit,
        text_search=bool(flt.text and flt.text.strip()),
    )
    return Page(tuple(channel_from_row(row, retention) for row in rows), total, offset, limit)


async def delete_channel(conn: AsyncConnection, scope: Scope, channel_id: str) -> None:
    row = (
        await conn.execute(
            select(channels.c.id).where(channels.c.id == channel_id, scope.clause(channels))
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no collection point {channel_id}")
    await conn.execute(channels.delete().where(channels.c.id == channel_id))
