"""Dropping stored coverage days whose segments or cause events changed (DESIGN §6).

``coverage_days`` rows (see ``recording.coverage_days``) are derived from the segments and
cause events of a context range around their day. Whoever changes those — indexing a
segment, deleting one, reconciliation, a back-dated event — calls
:func:`invalidate_coverage` in the same transaction as the change. It raises the channel's
counter in ``coverage_marks`` (a report computing days at the same moment then does not
store them) and deletes the rows whose context overlaps the changed time, set-based: one
statement per kind for the whole batch.

Stored days end at least :data:`SETTLED_AFTER_S` before the moment they were computed, so a
change that starts later than that before now cannot touch one: the recorder indexing the
segment it just closed, or an event written as it happens, costs nothing here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import coverage_days, coverage_marks

SETTLED_AFTER_S = 900.0

Change = tuple[str, datetime, datetime]  # channel id, start, end of what changed


def _ranges(changes: Iterable[Change], settled_before: datetime) -> list[dict[str, Any]]:
    """Per channel, the changed ranges merged where they touch (retention deletes runs)."""
    by_channel: dict[str, list[tuple[datetime, datetime]]] = {}
    for channel_id, start, end in changes:
        if start < settled_before:
            by_channel.setdefault(channel_id, []).append((start, max(start, end)))
    found: list[dict[str, Any]] = []
    for channel_id, spans in by_channel.items():
        spans.sort()
        lo, hi = spans[0]
        for start, end in spans[1:]:
            if start <= hi:
                hi = max(hi, end)
                continue
            found.append({"c": channel_id, "lo": lo, "hi": hi})
            lo, hi = start, end
        found.append({"c": channel_id, "lo": lo, "hi": hi})
    return found


def upsert(conn: AsyncConnection, table: Any) -> Any:
    """An INSERT that can take ON CONFLICT clauses on both backends."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


async def _bump(conn: AsyncConnection, channel_ids: Iterable[str]) -> None:
    # The counter goes first: it waits for a report holding the channel's mark, so the
    # delete after it sees the rows that report stored (READ COMMITTED on PostgreSQL).
    bump = upsert(conn, coverage_marks).on_conflict_do_update(
        index_elements=["channel_id"],
        set_={"generation": coverage_marks.c.generation + 1},
    )
    await conn.execute(bump, [{"channel_id": c, "generation": 1} for c in sorted(channel_ids)])


async def invalidate_coverage(
    conn: AsyncConnection, changes: Iterable[Change], *, now: datetime | None = None
) -> int:
    """Drop stored coverage days that the changed ranges may affect; returns ranges seen."""
    settled_before = (now or datetime.now(UTC)) - timedelta(seconds=SETTLED_AFTER_S)
    ranges = _ranges(changes, settled_before)
    if not ranges:
        return 0
    await _bump(conn, {r["c"] for r in ranges})
    d = coverage_days.c
    await conn.execute(
        coverage_days.delete().where(
            and_(
                d.channel_id == bindparam("c"),
                d.context_from < bindparam("hi"),
                d.context_to > bindparam("lo"),
            )
        ),
        ranges,
    )
    return len(ranges)


async def invalidate_coverage_for_event(
    conn: AsyncConnection, channel_id: str, at: datetime, *, now: datetime | None = None
) -> bool:
    """Drop stored days a cause event at ``at`` may explain: those whose context holds it,
    and later ones that begin inside a gap (their cause looks back to the last event)."""
    if at >= (now or datetime.now(UTC)) - timedelta(seconds=SETTLED_AFTER_S):
        return False
    await _bump(conn, [channel_id])
    d = coverage_days.c
    await conn.execute(
        coverage_days.delete().where(
            d.channel_id == channel_id,
            d.context_to > at,
            or_(d.context_from <= at, d.leads_with_gap),
        )
    )
    return True
