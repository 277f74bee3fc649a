"""Reading the cells of a ledger sheet: headers mapped to ledger columns, values parsed.

The first of the two checking stages (the second, ``ledger_validation``, checks rows against
the registry). Pure: no database, so it can be fuzzed on arbitrary files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vigil.registry.ledger_columns import LEDGER_COLUMNS, REQUIRED_KEYS, column_for_header
from vigil.registry.ledger_reader import LedgerLimits, LedgerSheet


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # spreadsheet row number; the header is normally row 1
    column: str  # the header as written in the file ("" for the row as a whole)
    reason: str


@dataclass(slots=True)
class ParsedRow:
    number: int
    values: dict[str, Any]  # ledger key → value read; None for blank or unreadable cells
    bad: set[str] = field(default_factory=set)  # keys whose cell could not be read


@dataclass(slots=True)
class ParsedLedger:
    headers: dict[str, str]  # ledger key → header as written
    rows: list[ParsedRow]
    errors: list[RowError]
    usable: bool  # False when a required column is missing: rows are not checked further


_UNKNOWN_HEADER = "unknown column header; the ledger columns are " + ", ".join(
    column.label for column in LEDGER_COLUMNS
)


def parse_sheet(sheet: LedgerSheet, limits: LedgerLimits) -> ParsedLedger:
    """Map the header to ledger columns and read every cell of every row."""
    errors: list[RowError] = []
    mapped: list[tuple[int, str, Any]] = []  # (cell index, key, reader)
    headers: dict[str, str] = {}
    for index, text in enumerate(sheet.headers):
        if not text:
            continue
        column = column_for_header(text)
        if column is None:
            errors.append(RowError(sheet.header_row, text, _UNKNOWN_HEADER))
        elif column.key in headers:
            errors.append(
                RowError(sheet.header_row, text, f"repeats the column {headers[column.key]!r}")
            )
        else:
            headers[column.key] = text
            mapped.append((index, column.key, column.read))
    missing = [key for key in REQUIRED_KEYS if key not in headers]
    for column in LEDGER_COLUMNS:
        if column.key in missing:
            errors.append(RowError(sheet.header_row, column.label, "required column is missing"))
    if sheet.truncated:
        errors.append(
            RowError(
                (sheet.rows[-1][0] if sheet.rows else sheet.header_row) + 1,
                "",
                f"the file has more than {limits.max_rows} data rows; split it into smaller files",
            )
        )
    rows: list[ParsedRow] = []
    width = len(sheet.headers)
    max_chars = limits.max_cell_chars
    for number, cells in sheet.rows:
        values: dict[str, Any] = {}
        row = ParsedRow(number, values)
        if len(cells) > width and any(
            cell is not None and str(cell).strip() for cell in cells[width:]
        ):
            errors.append(
                RowError(number, "", f"has values beyond the last of the {width} columns")
            )
        for index, key, read in mapped:
            cell = cells[index] if index < len(cells) else None
            if cell is None or (isinstance(cell, str) and not cell.strip()):
                values[key] = None
                continue
            if isinstance(cell, str) and len(cell) > max_chars:
                errors.append(
                    RowError(number, headers[key], f"is longer than {max_chars} characters")
                )
                values[key] = None
                row.bad.add(key)
                continue
            try:
                values[key] = read(cell)
            except ValueError as exc:
                errors.append(RowError(number, headers[key], str(exc)))
                values[key] = None
                row.bad.add(key)
        rows.append(row)
    return ParsedLedger(headers=headers, rows=rows, errors=errors, usable=not missing)
