"""Platform alarms: raised while a condition holds, cleared when it ends, acknowledged by a person.

An alarm is identified while open by its ``kind`` and ``source`` (a pool name, a channel
id): raising the same kind and source again updates the open alarm instead of adding a
second one, so a condition re-detected by every pass stays one alarm. Clearing stamps
``cleared_at``; the row stays as the record of what happened (DESIGN §6: a purge inside a
guarantee is never silent).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import alarms

SEVERITIES = ("critical", "major", "minor")


@dataclass(frozen=True, slots=True)
class Alarm:
    id: int
    at: datetime
    kind: str
    severity: str
    source: str
    message: str
    detail: dict[str, Any]
    cleared_at: datetime | None
    acknowledged_by: str | None
    acknowledged_at: datetime | None

    @property
    def open(self) -> bool:
        return self.cleared_at is None


def _alarm(row: sa.Row[Any]) -> Alarm:
    m = row._mapping
    return Alarm(
        id=int(m["id"]),
        at=m["at"],
        kind=str(m["kind"]),
        severity=str(m["severity"]),
        source=str(m["source"]),
        message=str(m["message"]),
        detail=dict(m["detail"] or {}),
        cleared_at=m["cleared_at"],
        acknowledged_by=m["acknowledged_by"],
        acknowledged_at=m["acknowledged_at"],
    )


async def open_alarm(conn: AsyncConnection, kind: str, source: str) -> Alarm | None:
    """The open alarm of this kind and source, if any."""
    row = (
        await conn.execute(
            sa.select(alarms)
            .where(alarms.c.kind == kind, alarms.c.source == source, alarms.c.cleared_at.is_(None))
            .order_by(alarms.c.id.desc())
            .limit(1)
        )
    ).first()
    return _alarm(row) if row is not None else None


async def raise_alarm(
    conn: AsyncConnection,
    *,
    kind: str,
    source: str,
    message: str,
    severity: str = "major",
    detail: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[Alarm, bool]:
    """Open an alarm, or refresh the message of the one already open; (alarm, newly raised)."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
    values = {"message": message, "severity": severity, "detail": dict(detail or {})}
    current = await open_alarm(conn, kind, source)
    if current is not None:
        await conn.execute(alarms.update().where(alarms.c.id == current.id).values(**values))
        refreshed = await alarm_by_id(conn, current.id)
        assert refreshed is not None
        return refreshed, False
    result = await conn.execute(
        alarms.insert().values(kind=kind, source=source, at=now or datetime.now(UTC), **values)
    )
    key = result.inserted_primary_key
    assert key is not None
    created = await alarm_by_id(conn, int(key[0]))
    assert created is not None
    return created, True


async def clear_alarm(
    conn: AsyncConnection, kind: str, source: str, *, now: datetime | None = None
) -> int:
    """Mark the open alarms of this kind and source cleared; returns how many were open."""
    result = await conn.execute(
        alarms.update()
        .where(alarms.c.kind == kind, alarms.c.source == source, alarms.c.cleared_at.is_(None))
        .values(cleared_at=now or datetime.now(UTC))
    )
    return int(result.rowcount or 0)


async def alarm_by_id(conn: AsyncConnection, alarm_id: int) -> Alarm | None:
    row = (await conn.execute(sa.select(alarms).where(alarms.c.id == alarm_id))).first()
    return _alarm(row) if row is not None else None


async def list_alarms(
    conn: AsyncConnection,
    *,
    open_only: bool = False,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[Alarm], int]:
    """Alarms newest first, with the number matching the filter."""
    conditions: list[sa.ColumnElement[bool]] = []
    if open_only:
        conditions.append(alarms.c.cleared_at.is_(None))
    if kind:
        conditions.append(alarms.c.kind == kind)
    rows = await conn.execute(
        sa.select(alarms)
        .where(*conditions)
        .order_by(alarms.c.at.desc(), alarms.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    total = await conn.scalar(sa.select(sa.func.count()).select_from(alarms).where(*conditions))
    return [_alarm(row) for row in rows], int(total or 0)


async def acknowledge_alarm(
    conn: AsyncConnection, alarm_id: int, by: str, *, now: datetime | None = None
) -> Alarm | None:
    """Record who took note of the alarm (the first acknowledgement stands); None if absent."""
    await conn.execute(
        alarms.update()
        .where(alarms.c.id == alarm_id, alarms.c.acknowledged_at.is_(None))
        .values(acknowledged_by=by, acknowledged_at=now or datetime.now(UTC))
    )
    return await alarm_by_id(conn, alarm_id)
