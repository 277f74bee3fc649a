"""Writing many collection points at once: INSERT … ON CONFLICT (id) DO UPDATE, batched.

Only the columns a ledger file carries are updated on conflict; the others keep their stored
values (a file without an address column leaves addresses alone). PostgreSQL receives each
batch as one statement over ``unnest`` of one array per column, which asyncpg encodes
natively: per-row parameter processing in Python was most of the cost of executemany.

SQLite takes an executemany, and points the import found absent a plain INSERT: an upsert
whose DO UPDATE sets indexed columns makes SQLite insert about three times slower even when
nothing conflicts. Should another connection insert one of those IDs meanwhile, the INSERT
fails on the primary key and the whole import rolls back: a race fails loudly, never
silently.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, bindparam, func, literal, null, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels

WRITE_BATCH = 10_000  # rows per statement (or per executemany)

# Every column a ledger row supplies, in table order; the rest are set here.
ROW_COLUMNS = (
    "id", "device_id", "name", "region_code", "org_id", "point_class", "network",
    "resolution", "hd", "retention_days", "ptz_type", "longitude", "latitude", "address",
    "civil_code", "secrecy", "manufacturer", "model",
)  # fmt: skip


def _updates(statement: Any, columns: Sequence[str]) -> dict[str, Any]:
    return {name: statement.excluded[name] for name in (*columns, "updated_at")}


async def _upsert_sqlite(
    conn: AsyncConnection,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    now: datetime,
    new_ids: Collection[str],
) -> None:
    upsert = sqlite.insert(channels)
    upsert = upsert.on_conflict_do_update(
        index_elements=[channels.c.id], set_=_updates(upsert, columns)
    )
    extra = {"online": False, "status_changed_at": None, "created_at": now, "updated_at": now}
    created = [row for row in rows if row["id"] in new_ids]
    changed = [row for row in rows if row["id"] not in new_ids]
    for statement, group in ((channels.insert(), created), (upsert, changed)):
        for start in range(0, len(group), WRITE_BATCH):
            batch = [{**row, **extra} for row in group[start : start + WRITE_BATCH]]
            await conn.execute(statement, batch)


async def _upsert_postgresql(
    conn: AsyncConnection, rows: Sequence[dict[str, Any]], columns: Sequence[str], now: datetime
) -> None:
    arrays = [bindparam(f"a_{name}", type_=ARRAY(channels.c[name].type)) for name in ROW_COLUMNS]
    source = func.unnest(*arrays).table_valued(*ROW_COLUMNS).render_derived(name="ledger_rows")
    stamp = bindparam("now", type_=channels.c.created_at.type)
    selected = select(
        *(source.c[name] for name in ROW_COLUMNS),
        literal(False),
        null(),
        stamp,
        stamp,
    )
    statement = postgresql.insert(channels).from_select(
        [*ROW_COLUMNS, "online", "status_changed_at", "created_at", "updated_at"], selected
    )
    statement = statement.on_conflict_do_update(
        index_elements=[channels.c.id], set_=_updates(statement, columns)
    )
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start : start + WRITE_BATCH]
        parameters: dict[str, Any] = {
            f"a_{name}": [row[name] for row in batch] for name in ROW_COLUMNS
        }
        parameters["now"] = now
        await conn.execute(statement, parameters)


async def upsert_channel_rows(
    conn: AsyncConnection,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    now: datetime,
    *,
    new_ids: Collection[str] = (),
) -> None:
    """Insert or update ``rows`` (each holding every ROW_COLUMNS key) by ID.

    New rows are created offline with ``now`` as creation time; existing rows get only
    ``columns`` and ``updated_at`` from the row. ``new_ids`` are the IDs this transaction
    found absent (SQLite inserts those without the upsert clause).
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        await _upsert_postgresql(conn, rows, columns, now)
    else:
        await _upsert_sqlite(conn, rows, columns, now, new_ids)
