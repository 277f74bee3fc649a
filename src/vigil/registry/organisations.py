"""Owner organisations (建设/使用单位): who built a point, who answers for it, which industry.

An organisation is in a caller's scope when the scope is unrestricted, names it, or covers
its region.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices, organisations, regions, utc_now
from vigil.registry.errors import (
    ConflictError,
    FieldProblem,
    InUseError,
    NotFoundError,
    ScopeError,
    UnknownRegionError,
    ValidationError,
)
from vigil.registry.field_rules import apply_changes, clean_text
from vigil.registry.page import Page, check_page_bounds, fetch_page
from vigil.registry.regions import normalise_region_code
from vigil.registry.scope import Scope, region_prefix_clause
from vigil.registry.text_filter import contains_text_clause

# GB/T 28181-2016 Table D.3, industry digits 9-10 of an ID. 12-39 and 56-79 are reserved
# bands with no meaning yet, so a code there is a typing slip.
INDUSTRY_NAMES: dict[str, str] = {
    "00": "社会治安路面接入", "01": "社会治安社区接入", "02": "社会治安内部接入",
    "03": "社会治安其他接入", "04": "交通路面接入", "05": "交通卡口接入", "06": "交通内部接入",
    "07": "交通其他接入", "08": "城市管理接入", "09": "卫生环保接入", "10": "商检海关接入",
    "11": "教育部门接入", "40": "农林牧渔业接入", "41": "采矿企业接入", "42": "制造企业接入",
    "43": "冶金企业接入", "44": "电力企业接入", "45": "燃气企业接入", "46": "建筑企业接入",
    "47": "物流企业接入", "48": "邮政企业接入", "49": "信息企业接入",
    "50": "住宿和餐饮业接入", "51": "金融企业接入", "52": "房地产业接入",
    "53": "商务服务业接入", "54": "水利企业接入", "55": "娱乐企业接入",
    **{f"{code}": "居民自建" for code in range(80, 90)},
    **{f"{code}": "其他主体" for code in range(90, 100)},
}  # fmt: skip

MAX_CODE_CHARS = 32  # organisations.code is String(32)
MAX_NAME_CHARS = 200


@dataclass(frozen=True, slots=True)
class Organisation:
    id: int
    code: str
    name: str
    industry_code: str
    region_code: str | None
    contact_name: str
    contact_phone: str
    sla_notes: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrganisationFields:
    """What a caller sets on an organisation (all of it on create, some of it on update)."""

    code: str
    name: str
    industry_code: str = "00"
    region_code: str | None = None
    contact_name: str = ""
    contact_phone: str = ""
    sla_notes: str = ""


def clean_industry_code(value: object) -> str:
    if not isinstance(value, str) or len(value) != 2 or not value.isdigit():
        raise ValueError(f"must be 2 digits (GB/T 28181 Table D.3), not {value!r}")
    if value not in INDUSTRY_NAMES:
        raise ValueError(f"{value} is a reserved industry code in GB/T 28181 Table D.3")
    return value


def clean_org_code(value: object) -> str:
    code = clean_text(value, MAX_CODE_CHARS, required=True)
    if any(char.isspace() for char in code):
        raise ValueError("must not contain spaces")
    return code


def _clean_fields(fields: OrganisationFields) -> OrganisationFields:
    problems: list[FieldProblem] = []
    cleaned: dict[str, Any] = {}
    checks: dict[str, Any] = {
        "code": clean_org_code,
        "name": lambda v: clean_text(v, MAX_NAME_CHARS, required=True),
        "industry_code": clean_industry_code,
        "region_code": lambda v: None if v is None else normalise_region_code(v, "region_code"),
        "contact_name": lambda v: clean_text(v, 100),
        "contact_phone": lambda v: clean_text(v, 40),
        "sla_notes": lambda v: clean_text(v, 10_000),
    }
    for name, value in asdict(fields).items():
        try:
            cleaned[name] = checks[name](value)
        except ValueError as exc:
            problems.append(FieldProblem(name, str(exc)))
        except ValidationError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ValidationError(problems)
    return OrganisationFields(**cleaned)


def _in_scope(scope: Scope, org_id: int | None, region_code: str | None) -> bool:
    if scope.unrestricted or (org_id is not None and org_id in scope.org_ids):
        return True
    return region_code is not None and scope.covers_region(region_code)


def _organisation(row: Row[*tuple[Any, ...]]) -> Organisation:
    return Organisation(**row._asdict())


_COLUMNS = tuple(organisations.c)


async def _check_references(
    conn: AsyncConnection, fields: OrganisationFields, org_id: int | None
) -> None:
    if fields.region_code is not None:
        found = await conn.scalar(
            select(regions.c.code).where(regions.c.code == fields.region_code)
        )
        if found is None:
            raise UnknownRegionError.of(
                "region_code", f"region {fields.region_code} is not registered"
            )
    holder = await conn.scalar(
        select(organisations.c.id).where(organisations.c.code == fields.code)
    )
    if holder is not None and holder != org_id:
        raise ConflictError(f"organisation code {fields.code} is already registered")


async def create_organisation(
    conn: AsyncConnection, scope: Scope, fields: OrganisationFields
) -> Organisation:
    clean = _clean_fields(fields)
    if not _in_scope(scope, None, clean.region_code):
        raise ScopeError("the organisation's region is outside your scope")
    await _check_references(conn, clean, None)
    now = utc_now()
    org_id = (
        await conn.execute(
            organisations.insert()
            .values(**asdict(clean), created_at=now, updated_at=now)
            .returning(organisations.c.id)
        )
    ).scalar_one()
    return await get_organisation(conn, scope, org_id)


async def get_organisation(conn: AsyncConnection, scope: Scope, org_id: int) -> Organisation:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(
                organisations.c.id == org_id, scope.organisation_clause(organisations)
            )
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no organisation {org_id}")
    return _organisation(row)


async def get_organisation_by_code(conn: AsyncConnection, scope: Scope, code: str) -> Organisation:
    row = (
        await conn.execute(
            select(*_COLUMNS).where(
                organisations.c.code == code.strip(), scope.organisation_clause(organisations)
            )
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no organisation with code {code!r}")
    return _organisation(row)


async def update_organisation(
    conn: AsyncConnection, scope: Scope, org_id: int, changes: Mapping[str, object]
) -> Organisation:
    """Change some fields; ScopeError if the new region would take it out of the scope."""
    current = await get_organisation(conn, scope, org_id)
    merged = apply_changes(
        OrganisationFields(
            **{name: getattr(current, name) for name in OrganisationFields.__dataclass_fields__}
        ),
        changes,
    )
    clean = _clean_fields(merged)
    if not _in_scope(scope, org_id, clean.region_code):
        raise ScopeError("the new region would move the organisation outside your scope")
    await _check_references(conn, clean, org_id)
    await conn.execute(
        organisations.update()
        .where(organisations.c.id == org_id)
        .values(**asdict(clean), updated_at=utc_now())
    )
    return await get_organisation(conn, scope, org_id)


async def list_organisations(
    conn: AsyncConnection,
    scope: Scope,
    *,
    region: str | None = None,
    text: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> Page[Organisation]:
    """Organisations in scope, by code; ``region`` is a prefix, ``text`` matches code or name."""
    check_page_bounds(offset, limit)
    conditions = [scope.organisation_clause(organisations)]
    if region is not None:
        prefix = normalise_region_code(region, "region")
        conditions.append(region_prefix_clause(organisations.c.region_code, prefix))
    if text and text.strip():
        columns = [organisations.c.code, organisations.c.name]
        conditions.append(contains_text_clause(conn, columns, text.strip()))
    rows, total = await fetch_page(
        conn, organisations, conditions, organisations.c.code, offset=offset, limit=limit
    )
    return Page(tuple(_organisation(row) for row in rows), total, offset, limit)


async def delete_organisation(conn: AsyncConnection, scope: Scope, org_id: int) -> None:
    """Delete an organisation no point or device refers to (InUseError otherwise)."""
    await get_organisation(conn, scope, org_id)
    points = (
        await conn.execute(select(func.count()).where(channels.c.org_id == org_id))
    ).scalar_one()
    owned_devices = (
        await conn.execute(select(func.count()).where(devices.c.org_id == org_id))
    ).scalar_one()
    if points or owned_devices:
        raise InUseError(
            f"organisation {org_id} still owns {points} collection points "
            f"and {owned_devices} devices"
        )
    await conn.execute(organisations.delete().where(organisations.c.id == org_id))
