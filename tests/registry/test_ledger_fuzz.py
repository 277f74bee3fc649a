"""Untrusted ledger files: whatever the bytes, the checker returns problems or LedgerError."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.registry.errors import LedgerError
from vigil.registry.ledger_parser import parse_sheet
from vigil.registry.ledger_reader import LedgerLimits, read_ledger
from vigil.registry.ledger_validation import LedgerContext, plan_rows
from vigil.registry.scope import UNRESTRICTED

from .seed import RETENTION

LIMITS = LedgerLimits(max_rows=50)
HEADER = "id,name,region_code,point_class,longitude,hd,retention_days,org_code,device_id\n"


def _context() -> LedgerContext:
    return LedgerContext(
        scope=UNRESTRICTED,
        retention=RETENTION,
        regions={"34", "3402", "340202"},
        orgs_by_code={},
        org_codes_by_name={},
        devices={},
        existing={},
    )


def _check(data: bytes, fmt: str | None = None) -> None:
    try:
        sheet = read_ledger(data, fmt, LIMITS)  # type: ignore[arg-type]
    except LedgerError:
        return
    plan = plan_rows(parse_sheet(sheet, LIMITS), _context())
    assert plan.rows == len(sheet.rows)
    assert all(error.row >= 1 for error in plan.errors)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    _check(data)
    _check(data, "csv")
    _check(data, "xlsx")


@settings(max_examples=300)
@given(st.text(max_size=1000))
def test_arbitrary_rows_below_a_valid_header(body: str) -> None:
    _check((HEADER + body).encode("utf-8"))
    _check((HEADER + body).encode("gb18030", errors="replace"))


@settings(max_examples=100)
@given(st.binary(max_size=500), st.sampled_from(["xl/workbook.xml", "[Content_Types].xml"]))
def test_arbitrary_zip_parts(payload: bytes, name: str) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, payload)
    _check(buffer.getvalue())
