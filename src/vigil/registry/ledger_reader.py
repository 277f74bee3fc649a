"""Reading a ledger file (CSV or XLSX) into a header and rows of cells, within bounds.

CSV text is decoded strictly as UTF-8 (with or without BOM) and otherwise as GB18030, the
superset of GBK that Excel on Chinese Windows writes; a file that is neither is refused
rather than guessed into mojibake. XLSX is streamed by ``xlsx_reader`` after the archive's
declared sizes are checked, so a small upload cannot expand into an unbounded amount of XML.

Anything wrong with the file as a whole raises LedgerError; problems of single rows or cells
are left to the importer, which reports them all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Literal

from vigil.registry.errors import LedgerError
from vigil.registry.ledger_columns import Cell, column_for_header
from vigil.registry.xlsx_reader import iter_xlsx_rows

LedgerFormat = Literal["csv", "xlsx"]

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy binary .xls
HEADER_SEARCH_ROWS = 10  # title rows above the header (a sheet caption) are skipped


@dataclass(frozen=True, slots=True)
class LedgerLimits:
    max_rows: int = 200_000  # data rows per file
    max_cell_chars: int = 1_000  # the longest ledger field is 200; this is generous
    max_columns: int = 100
    max_uncompressed_bytes: int = 1 << 30  # XLSX archive contents, all parts together


@dataclass(slots=True)
class LedgerSheet:
    """The header (as written in the file) and the non-blank rows below it."""

    header_row: int  # spreadsheet row number, 1-based
    headers: list[str]
    rows: list[tuple[int, list[Cell]]] = field(default_factory=list)
    truncated: bool = False  # more than LedgerLimits.max_rows data rows were present


def detect_format(data: bytes) -> LedgerFormat:
    if data.startswith(XLSX_MAGIC):
        return "xlsx"
    if data.startswith(OLE_MAGIC):
        raise LedgerError("legacy .xls workbooks are not read; save the sheet as .xlsx or CSV")
    return "csv"


def decode_csv_bytes(data: bytes) -> str:
    """UTF-8 (BOM optional) if the bytes are valid UTF-8, else GB18030, else LedgerError."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise LedgerError("the CSV file is neither UTF-8 nor GB18030 (GBK) text") from None


def _sniff_delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    counts = {delimiter: first_line.count(delimiter) for delimiter in (",", "\t", ";")}
    best = max(counts, key=lambda delimiter: counts[delimiter])
    return best if counts[best] else ","


def _csv_rows(data: bytes) -> Generator[tuple[int, list[Cell]]]:
    text = decode_csv_bytes(data)
    if "\x00" in text:
        raise LedgerError("the CSV file contains NUL characters; it is not a text file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        # A spreadsheet numbers records, not lines: a quoted cell may span several lines.
        for number, record in enumerate(reader, start=1):
            yield number, list(record)
    except csv.Error as exc:
        raise LedgerError(f"the CSV file is malformed at line {reader.line_num}: {exc}") from None


def _is_blank(cells: list[Cell]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def _trim(cells: list[Cell]) -> list[Cell]:
    end = len(cells)
    while end and (cells[end - 1] is None or cells[end - 1] == ""):
        end -= 1
    return cells[:end]


def _looks_like_header(cells: list[Cell]) -> bool:
    known = sum(1 for cell in cells if isinstance(cell, str) and column_for_header(cell))
    return known >= 2


def read_ledger(
    data: bytes, fmt: LedgerFormat | None = None, limits: LedgerLimits | None = None
) -> LedgerSheet:
    """Split a ledger file into its header and data rows (blank rows dropped).

    The header is the first row, among the first few non-blank ones, that names at least two
    ledger columns (so a caption row above it is skipped); failing that, the first non-blank
    row. Reading stops after ``max_rows`` data rows with ``truncated`` set.
    """
    limits = limits or LedgerLimits()
    if not data:
        raise LedgerError("the file is empty")
    kind = fmt or detect_format(data)
    rows = (
        iter_xlsx_rows(
            io.BytesIO(data),
            max_columns=limits.max_columns,
            max_uncompressed_bytes=limits.max_uncompressed_bytes,
        )
        if kind == "xlsx"
        else _csv_rows(data)
    )

    candidates: list[tuple[int, list[Cell]]] = []
    sheet: LedgerSheet | None = None
    try:
        for number, cells in rows:
            if sheet is None:
                if _is_blank(cells):
                    continue
                candidates.append((number, cells))
                if _looks_like_header(cells) or len(candidates) == HEADER_SEARCH_ROWS:
                    sheet = _start_sheet(candidates, limits)
                continue
            if _is_blank(cells):
                continue
            if len(sheet.rows) >= limits.max_rows:
                sheet.truncated = True
                break
            sheet.rows.append((number, cells))
    finally:
        rows.close()  # stops the XLSX reader early and closes the workbook
    if sheet is None:
        if not candidates:
            raise LedgerError("the file has no header row")
        sheet = _start_sheet(candidates, limits)
    return sheet


def _start_sheet(candidates: list[tuple[int, list[Cell]]], limits: LedgerLimits) -> LedgerSheet:
    """The sheet whose header is the recognisable candidate, or the first one."""
    chosen = next(
        ((number, cells) for number, cells in candidates if _looks_like_header(cells)),
        candidates[0],
    )
    header_number, header_cells = chosen
    headers = [
        cell.strip() if isinstance(cell, str) else ("" if cell is None else str(cell))
        for cell in _trim(header_cells)
    ]
    if len(headers) > limits.max_columns:
        raise LedgerError(
            f"the header has {len(headers)} columns; at most {limits.max_columns} are accepted"
        )
    sheet = LedgerSheet(header_row=header_number, headers=headers)
    # Rows read while looking for the header that lie below it are data.
    sheet.rows.extend(
        (number, cells)
        for number, cells in candidates
        if number > header_number and not _is_blank(cells)
    )
    if len(sheet.rows) > limits.max_rows:
        del sheet.rows[limits.max_rows :]
        sheet.truncated = True
    return sheet
