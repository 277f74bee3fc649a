"""The XLSX reader and writer, checked against openpyxl as an independent implementation."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook, load_workbook

from vigil.registry.errors import LedgerError
from vigil.registry.xlsx_reader import iter_xlsx_rows
from vigil.registry.xlsx_writer import column_letters, write_xlsx

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
DOC_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _rows(data: bytes, max_columns: int = 100) -> list[tuple[int, list[object]]]:
    return list(
        iter_xlsx_rows(io.BytesIO(data), max_columns=max_columns, max_uncompressed_bytes=1 << 24)
    )


def _workbook(sheet_xml: str, shared_strings: str | None = None) -> bytes:
    """A hand-made package: prefixed namespaces, as some generators write them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{RELS}"><Relationship Id="r1" '
            f'Type="{DOC_RELS}/officeDocument" Target="/xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<x:workbook xmlns:x="{MAIN}" xmlns:r="{DOC_RELS}"><x:sheets>'
            '<x:sheet name="S" sheetId="1" r:id="rId7"/></x:sheets></x:workbook>',
        )
        strings_rel = (
            f'<Relationship Id="rId8" Type="{DOC_RELS}/sharedStrings" Target="strings.xml"/>'
            if shared_strings is not None
            else ""
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{RELS}"><Relationship Id="rId7" '
            f'Type="{DOC_RELS}/worksheet" Target="sheets/data.xml"/>{strings_rel}'
            "</Relationships>",
        )
        if shared_strings is not None:
            archive.writestr("xl/strings.xml", f'<x:sst xmlns:x="{MAIN}">{shared_strings}</x:sst>')
        archive.writestr(
            "xl/sheets/data.xml",
            f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData>{sheet_xml}</x:sheetData></x:worksheet>',
        )
    return buffer.getvalue()


def test_reads_every_cell_kind_from_a_hand_made_package() -> None:
    strings = (
        "<x:si><x:t>编码</x:t></x:si>"
        "<x:si><x:r><x:t>萳溪</x:t></x:r><x:r><x:t xml:space='preserve'> 路</x:t></x:r>"
        "<x:rPh><x:t>nanxi</x:t></x:rPh></x:si>"
    )
    sheet = (
        '<x:row r="1"><x:c r="A1" t="s"><x:v>0</x:v></x:c><x:c r="C1" t="b"><x:v>1</x:v></x:c>'
        "</x:row>"
        '<x:row r="4"><x:c t="s"><x:v>1</x:v></x:c><x:c><x:v>42</x:v></x:c>'
        '<x:c><x:v>118.25</x:v></x:c><x:c t="str"><x:f>A1</x:f><x:v>formula</x:v></x:c>'
        '<x:c t="inlineStr"><x:is><x:t>inline</x:t></x:is></x:c><x:c r="Z4"><x:v>9</x:v></x:c>'
        "</x:row>"
    )
    rows = _rows(_workbook(sheet, strings), max_columns=6)
    assert rows == [
        (1, ["编码", None, True]),
        (4, ["萳溪 路", 42, 118.25, "formula", "inline"]),  # column Z is beyond max_columns
    ]


def test_reads_openpyxl_output() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["id", "值"])
    sheet.append(["34020200001320000001", 3])
    sheet.append([None, None])
    sheet.append(["x", False])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert _rows(buffer.getvalue()) == [
        (1, ["id", "值"]),
        (2, ["34020200001320000001", 3]),
        (4, ["x", False]),
    ]


def test_writer_output_reads_back_in_openpyxl_and_here() -> None:
    header = ["国标编码", "名称", "经度", "数"]
    rows = [
        ["34020200001320000001", '=cmd|"/c calc"!A1', 118.123456789, 7],
        ["34020200001320000002", "a\x01b <&> 萳", None, -1],
    ]
    data = write_xlsx(header, rows, sheet_name="台账")
    sheet = load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.title == "台账"
    assert [[cell.value for cell in row] for row in sheet.iter_rows()] == [
        header,
        ["34020200001320000001", '=cmd|"/c calc"!A1', 118.123456789, 7],
        ["34020200001320000002", "ab <&> 萳", None, -1],
    ]
    assert sheet["B2"].data_type == "s"  # text, never a formula
    assert _rows(data)[1] == (2, ["34020200001320000001", '=cmd|"/c calc"!A1', 118.123456789, 7])


def test_column_letters() -> None:
    assert [column_letters(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A", "Z", "AA", "AB", "ZZ", "AAA",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "sheet",
    [
        '<x:row><x:c t="s"><x:v>5</x:v></x:c></x:row>',  # no shared string 5
        "<x:row><x:c><x:v>12abc</x:v></x:c></x:row>",  # not a number
        "<x:row><x:c>",  # truncated XML
    ],
)
def test_malformed_sheets_raise_ledger_error(sheet: str) -> None:
    with pytest.raises(LedgerError):
        _rows(_workbook(sheet, "<x:si><x:t>a</x:t></x:si>"))


def test_entities_and_oversized_archives_are_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
        f'<x:worksheet xmlns:x="{MAIN}"><x:sheetData/></x:worksheet>'
    )
    data = _workbook("")
    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(buffer, "w") as target:
        for info in source.infolist():
            payload = source.read(info)
            target.writestr(info, bomb if info.filename == "xl/sheets/data.xml" else payload)
    with pytest.raises(LedgerError, match="DTD"):
        _rows(buffer.getvalue())
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", b"0" * (1 << 25))
    with pytest.raises(LedgerError, match="expands to"):
        _rows(big.getvalue())
