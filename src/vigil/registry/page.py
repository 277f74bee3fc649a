"""One page of a listing, with the total the filter matched, fetched without waste.

Counting every match of a filter costs a scan of its matches, so the count is skipped when
the page itself shows the total (a short page). For text searches, whose LIKE conditions no
B-tree index can serve, the matching keys are collected in one scan (capped) and the page is
cut from them, instead of one scan for the page and another for the count; ordering by key
would otherwise tempt the planner into walking the whole primary-key index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Row, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.registry.errors import FieldProblem, ValidationError

T = TypeVar("T")

MAX_PAGE_LIMIT = 500  # rows per page: enough for any table view, small enough to stay fast
TEXT_MATCH_CAP = 5_000  # beyond this many text matches, count and page the ordinary way


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int  # rows matching the filter, regardless of offset and limit
    offset: int
    limit: int


def check_page_bounds(offset: int, limit: int) -> None:
    """Refuse negative offsets and limits outside 1..MAX_PAGE_LIMIT."""
    problems = []
    if offset < 0:
        problems.append(FieldProblem("offset", f"must be 0 or more, not {offset}"))
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        problems.append(FieldProblem("limit", f"must be 1 to {MAX_PAGE_LIMIT}, not {limit}"))
    if problems:
        raise ValidationError(problems)


async def fetch_page(
    conn: AsyncConnection,
    table: Table,
    conditions: Sequence[ColumnElement[bool]],
    key: ColumnElement[Any],
    *,
    offset: int,
    limit: int,
    text_search: bool = False,
) -> tuple[list[Row[Any]], int]:
    """Rows ``offset``..``offset+limit`` of ``table`` matching ``conditions`` by ``key``, and
    the number of matches.

    ``key`` must be unique, and for ``text_search`` sort in Python as in SQL (digit IDs do).
    """
    if text_search:
        keys = list(
            (await conn.execute(select(key).where(*conditions).limit(TEXT_MATCH_CAP + 1)))
            .scalars()
            .all()
        )
        if len(keys) <= TEXT_MATCH_CAP:
            keys.sort()
            wanted = keys[offset : offset + limit]
            if not wanted:
                return [], len(keys)
            result = await conn.execute(select(*table.c).where(key.in_(wanted)).order_by(key))
            return list(result.all()), len(keys)
    result = await conn.execute(
        select(*table.c).where(*conditions).order_by(key).offset(offset).limit(limit)
    )
    rows = list(result.all())
    if 0 < len(rows) < limit or (offset == 0 and not rows):
        return rows, offset + len(rows)
    count = select(func.count()).select_from(table).where(*conditions)
    return rows, (await conn.execute(count)).scalar_one()
