"""Administrative regions (GB/T 2260): the tree every point, owner and scope hangs from.

Codes are kept in their significant form (province ``34``, city ``3402``, county ``340202``,
station ``34020201``) so "inside a region" is a prefix test. The parent of a region is the
longest registered shorter prefix: a station may hang directly from a city when the county is
not registered, and is re-parented when the county is added later.

The region tree with point counts is assembled from one GROUP BY over the points in scope,
with counts summed upward in Python: for thousands of regions far cheaper than a recursive
query per node.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    bindparam,
    cast,
    false,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices, organisations, regions, utc_now
from vigil.protocols.errors import ParseError
from vigil.protocols.gb28181.device_id import significant_region_code
from vigil.registry.errors import (
    FieldProblem,
    InUseError,
    NotFoundError,
    ScopeError,
    UnknownRegionError,
    ValidationError,
)
from vigil.registry.scope import Scope, region_prefix_clause

MAX_REGION_NAME_CHARS = 100  # regions.name is String(100)


@dataclass(frozen=True, slots=True)
class Region:
    code: str  # significant form: 2, 4, 6 or 8 digits
    name: str
    parent_code: str | None
    level: int  # 1 province, 2 city, 3 county, 4 station


@dataclass(frozen=True, slots=True)
class RegionImportReport:
    created: int
    updated: int  # name changed
    unchanged: int


@dataclass(frozen=True, slots=True)
class RegionNode:
    code: str
    name: str
    level: int
    channels_total: int  # points in scope in this region and every region below it
    channels_online: int
    children: tuple[RegionNode, ...]


def normalise_region_code(code: str, field: str = "code") -> str:
    """The significant form of a 2/4/6/8-digit code; ValidationError naming ``field`` if bad."""
    try:
        return significant_region_code(code.strip())
    except ParseError as exc:
        raise ValidationError.of(field, str(exc)) from None


def ancestor_codes(code: str) -> list[str]:
    """Every shorter significant prefix of ``code``, shortest first: ``3402`` → ``["34"]``."""
    return [code[:length] for length in range(2, len(code), 2)]


def parent_among(code: str, known: Container[str]) -> str | None:
    """The longest shorter prefix of ``code`` present in ``known``: the region's parent."""
    for length in range(len(code) - 2, 0, -2):
        if code[:length] in known:
            return code[:length]
    return None


def _check_name(name: str, field: str = "name") -> str:
    name = name.strip()
    if not name:
        raise ValidationError.of(field, "must not be empty")
    if len(name) > MAX_REGION_NAME_CHARS:
        raise ValidationError.of(field, f"has {len(name)} characters; at most 100 are allowed")
    return name


async def org_anchor_codes(conn: AsyncConnection, scope: Scope) -> set[str]:
    """Regions an organisation-scoped caller reaches through its owners' records.

    Their ancestors are shown as context so a school's guard can see where its points are.
    """
    if scope.unrestricted or not scope.org_ids:
        return set()
    org_regions = select(organisations.c.region_code).where(
        organisations.c.id.in_(scope.org_ids), organisations.c.region_code.is_not(None)
    )
    point_regions = (
        select(channels.c.region_code).where(channels.c.org_id.in_(scope.org_ids)).distinct()
    )
    anchors = {code for (code,) in await conn.execute(org_regions)}
    anchors.update(code for (code,) in await conn.execute(point_regions))
    return anchors


def _visible_clause(scope: Scope, anchors: set[str]) -> ColumnElement[bool]:
    """Regions a scope may read: those inside it, plus ancestors of its anchors as context."""
    if scope.unrestricted:
        return true()
    context = set(anchors)
    for prefix in scope.region_prefixes:
        context.update(ancestor_codes(prefix))
    for anchor in anchors:
        context.update(ancestor_codes(anchor))
    conditions: list[ColumnElement[bool]] = [
        region_prefix_clause(regions.c.code, prefix) for prefix in scope.region_prefixes
    ]
    if context:
        conditions.append(regions.c.code.in_(sorted(context)))
    return or_(*conditions) if conditions else false()


def _region(row: Row[*tuple[Any, ...]]) -> Region:
    return Region(code=row.code, name=row.name, parent_code=row.parent_code, level=row.level)


_REGION_COLUMNS = (regions.c.code, regions.c.name, regions.c.parent_code, regions.c.level)


async def get_region(conn: AsyncConnection, scope: Scope, code: str) -> Region:
    """The region ``code`` (any of its 2/4/6/8-digit spellings); NotFoundError if not visible."""
    normal = normalise_region_code(code)
    anchors = await org_anchor_codes(conn, scope)
    row = (
        await conn.execute(
            select(*_REGION_COLUMNS).where(
                regions.c.code == normal, _visible_clause(scope, anchors)
            )
        )
    ).first()
    if row is None:
        raise NotFoundError(f"no region {normal}")
    return _region(row)


async def list_regions(
    conn: AsyncConnection, scope: Scope, parent: str | None = None
) -> list[Region]:
    """Regions visible to ``scope`` ordered by code; only the children of ``parent`` if given."""
    anchors = await org_anchor_codes(conn, scope)
    query = select(*_REGION_COLUMNS).where(_visible_clause(scope, anchors))
    if parent is not None:
        query = query.where(regions.c.parent_code == normalise_region_code(parent, "parent"))
    return [_region(row) for row in await conn.execute(query.order_by(regions.c.code))]


async def upsert_region(conn: AsyncConnection, scope: Scope, code: str, name: str) -> Region:
    """Create the region or rename it. A new region adopts registered descendants as children.

    A non-province needs its province registered (UnknownRegionError otherwise); the region
    must lie inside the caller's scope (ScopeError).
    """
    normal = normalise_region_code(code)
    clean_name = _check_name(name)
    if not scope.covers_region(normal):
        raise ScopeError(f"region {normal} is outside your scope")
    prefixes = [*ancestor_codes(normal), normal]
    known = {
        row.code: row
        for row in await conn.execute(select(*_REGION_COLUMNS).where(regions.c.code.in_(prefixes)))
    }
    if len(normal) > 2 and normal[:2] not in known:
        raise UnknownRegionError.of("code", f"province {normal[:2]} is not registered")
    existing = known.get(normal)
    if existing is not None:
        if existing.name != clean_name:
            await conn.execute(
                update(regions).where(regions.c.code == normal).values(name=clean_name)
            )
        return Region(normal, clean_name, existing.parent_code, existing.level)
    parent = parent_among(normal, known)
    await conn.execute(
        regions.insert().values(
            code=normal,
            name=clean_name,
            parent_code=parent,
            level=len(normal) // 2,
            created_at=utc_now(),
        )
    )
    await _adopt_descendants(conn, normal)
    return Region(normal, clean_name, parent, len(normal) // 2)


async def _adopt_descendants(conn: AsyncConnection, code: str) -> None:
    """Descendants whose parent is above ``code`` (or missing) now hang from ``code``."""
    await conn.execute(
        update(regions)
        .where(
            region_prefix_clause(regions.c.code, code),
            regions.c.code != code,
            or_(
                regions.c.parent_code.is_(None),
                func.length(regions.c.parent_code) < len(code),
            ),
        )
        .values(parent_code=code)
    )


async def delete_region(conn: AsyncConnection, scope: Scope, code: str) -> None:
    """Delete an unused region; InUseError if regions, points, devices or owners refer to it."""
    normal = normalise_region_code(code)
    await get_region(conn, scope, normal)
    if not scope.covers_region(normal):
        raise ScopeError(f"region {normal} is outside your scope")
    references = {
        "child regions": select(func.count()).where(regions.c.parent_code == normal),
        "collection points": select(func.count()).where(channels.c.region_code == normal),
        "devices": select(func.count()).where(devices.c.region_code == normal),
        "organisations": select(func.count()).where(organisations.c.region_code == normal),
    }
    in_use = []
    for label, query in references.items():
        count = (await conn.execute(query)).scalar_one()
        if count:
            in_use.append(f"{count} {label}")
    if in_use:
        raise InUseError(f"region {normal} is still used by {', '.join(in_use)}")
    await conn.execute(regions.delete().where(regions.c.code == normal))


async def import_regions(
    conn: AsyncConnection, scope: Scope, rows: Iterable[tuple[str, str]]
) -> RegionImportReport:
    """Create or rename many regions at once from ``(code, name)`` pairs, all or nothing.

    Every row is checked before anything is written; the problems of all rows are raised
    together as one ValidationError naming ``rows[i].code`` / ``rows[i].name``.
    """
    wanted: dict[str, str] = {}
    row_of: dict[str, int] = {}
    problems: list[FieldProblem] = []
    for index, (raw_code, raw_name) in enumerate(rows):
        try:
            code = normalise_region_code(raw_code, f"rows[{index}].code")
            name = _check_name(raw_name, f"rows[{index}].name")
        except ValidationError as exc:
            problems.extend(exc.problems)
            continue
        if not scope.covers_region(code):
            problems.append(FieldProblem(f"rows[{index}].code", f"{code} is outside your scope"))
        elif code in wanted:
            problems.append(FieldProblem(f"rows[{index}].code", f"{code} is listed twice"))
        else:
            wanted[code] = name
            row_of[code] = index
    existing = {row.code: row for row in await conn.execute(select(*_REGION_COLUMNS))}
    known = set(existing) | set(wanted)
    for code in wanted:
        if len(code) > 2 and code[:2] not in known:
            problems.append(
                FieldProblem(f"rows[{row_of[code]}].code", f"province {code[:2]} is not registered")
            )
    if problems:
        raise ValidationError(problems)

    now = utc_now()
    parents = {code: parent_among(code, known) for code in known}
    created = [
        {"code": code, "name": name, "parent_code": parents[code], "level": len(code) // 2,
         "created_at": now}
        for code, name in wanted.items()
        if code not in existing
    ]  # fmt: skip
    renamed = {code: name for code, name in wanted.items()
               if code in existing and existing[code].name != name}  # fmt: skip
    changes = [
        {"b_code": code, "b_name": renamed.get(code, row.name), "b_parent": parents[code]}
        for code, row in existing.items()
        if code in renamed or row.parent_code != parents[code]
    ]
    if created:
        await conn.execute(regions.insert(), created)
    if changes:
        await conn.execute(
            update(regions)
            .where(regions.c.code == bindparam("b_code"))
            .values(name=bindparam("b_name"), parent_code=bindparam("b_parent")),
            changes,
        )
    return RegionImportReport(
        created=len(created),
        updated=len(renamed),
        unchanged=len(wanted) - len(created) - len(renamed),
    )


async def region_tree(conn: AsyncConnection, scope: Scope) -> tuple[RegionNode, ...]:
    """Root nodes (provinces, normally) of the regions in scope and their ancestors.

    A region is in scope when the scope covers it or when it holds points the scope may see
    (an owner-scoped caller sees where its points are); ancestors are shown as context, and
    their counts include only points in scope.
    """
    direct: dict[str, list[int]] = {}
    counts = (
        select(
            channels.c.region_code,
            func.count(),
            func.coalesce(func.sum(cast(channels.c.online, Integer)), 0),
        )
        .where(scope.clause(channels))
        .group_by(channels.c.region_code)
    )
    for code, total, online in await conn.execute(counts):
        direct[code] = [int(total), int(online)]

    rows = (
        await conn.execute(
            select(regions.c.code, regions.c.name, regions.c.parent_code, regions.c.level)
        )
    ).all()
    if scope.unrestricted:
        visible = {row.code for row in rows}
    else:
        anchors = set(direct) | await org_anchor_codes(conn, scope)
        anchors.update(row.code for row in rows if scope.covers_region(row.code))
        visible = set(anchors)
        for code in anchors:
            visible.update(ancestor_codes(code))

    shown = sorted((row for row in rows if row.code in visible), key=lambda r: -r.level)
    totals = {row.code: direct.get(row.code, [0, 0]) for row in shown}
    children: dict[str, list[RegionNode]] = {}
    roots: list[RegionNode] = []
    # Deepest first: every node's children are complete before the node itself is built.
    for row in shown:
        total, online = totals[row.code]
        node = RegionNode(
            code=row.code,
            name=row.name,
            level=row.level,
            channels_total=total,
            channels_online=online,
            children=tuple(sorted(children.pop(row.code, ()), key=lambda n: n.code)),
        )
        parent = row.parent_code
        if parent is not None and parent in totals:
            parent_totals = totals[parent]
            parent_totals[0] += total
            parent_totals[1] += online
            children.setdefault(parent, []).append(node)
        else:
            roots.append(node)
    return tuple(sorted(roots, key=lambda n: n.code))
