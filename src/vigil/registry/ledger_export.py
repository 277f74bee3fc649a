"""Exporting the ledger as CSV or XLSX with the import's own columns, so it re-imports cleanly.

CSV is UTF-8 with a BOM, which Excel needs to open Chinese text without mojibake. Text that a
spreadsheet would run as a formula (starting with = + - @) is defused: in CSV by a leading
apostrophe, which the importer removes again; XLSX cells hold text as text, never formulas.
"""

from __future__ import annotations

import csv
import io
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, organisations
from vigil.registry.channels import ChannelFilter, channel_filter_conditions
from vigil.registry.ledger_columns import (
    FORMULA_PREFIXES,
    LEDGER_COLUMNS,
    ExportValue,
    export_header,
)
from vigil.registry.ledger_reader import LedgerFormat
from vigil.registry.scope import Scope
from vigil.registry.xlsx_writer import write_xlsx

LedgerLanguage = Literal["zh", "en"]

_TEXT_KEYS = {"name", "org_name", "address", "manufacturer", "model"}


async def _ledger_rows(
    conn: AsyncConnection, scope: Scope, flt: ChannelFilter, lang: LedgerLanguage
) -> list[list[ExportValue]]:
    stored = [channels.c[column.key] for column in LEDGER_COLUMNS if column.key in channels.c]
    query = (
        select(
            *stored, organisations.c.code.label("org_code"), organisations.c.name.label("org_name")
        )
        .select_from(channels.outerjoin(organisations, channels.c.org_id == organisations.c.id))
        .where(*channel_filter_conditions(conn, scope, flt))
        .order_by(channels.c.id)
    )
    writers = [
        (column.key, column.write_zh if lang == "zh" else column.write_en)
        for column in LEDGER_COLUMNS
    ]
    result = await conn.execute(query)
    return [[write(row._mapping[key]) for key, write in writers] for row in result]


def _csv_bytes(header: list[str], rows: list[list[ExportValue]]) -> bytes:
    text_columns = [i for i, column in enumerate(LEDGER_COLUMNS) if column.key in _TEXT_KEYS]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        for index in text_columns:
            value = row[index]
            if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
                row[index] = "'" + value
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode("utf-8-sig")


async def export_ledger(
    conn: AsyncConnection,
    scope: Scope,
    flt: ChannelFilter | None = None,
    *,
    fmt: LedgerFormat = "csv",
    lang: LedgerLanguage = "zh",
) -> bytes:
    """The points in ``scope`` matching ``flt`` as a ledger file, ordered by ID.

    Headers and coded values (class, network, yes/no) are written in ``lang``; the importer
    reads either language.
    """
    header = [export_header(column, lang) for column in LEDGER_COLUMNS]
    rows = await _ledger_rows(conn, scope, flt or ChannelFilter(), lang)
    if fmt == "xlsx":
        return write_xlsx(header, rows, sheet_name="台账" if lang == "zh" else "ledger")
    return _csv_bytes(header, rows)
