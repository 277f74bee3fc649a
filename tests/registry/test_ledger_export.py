"""Ledger export: same columns as import, scope honoured, exact round trips."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.registry.channels import ChannelFilter, list_channels, update_channel
from vigil.registry.ledger_export import export_ledger
from vigil.registry.ledger_import import import_ledger
from vigil.registry.scope import UNRESTRICTED

from .seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, point_id

P1, P2, P3 = point_id(COUNTY_A, 1), point_id(COUNTY_A, 2), point_id(COUNTY_B, 3)
NVR = point_id(COUNTY_A, 9, 118)

LEDGER = (
    "id,name,region_code,org_code,org_name,point_class,network,resolution,hd,retention_days,"
    "ptz_type,longitude,latitude,address,civil_code,secrecy,device_id,manufacturer,model\n"
    f"{P1},萳溪 Gate,340202,ORG-A,,1,police_video,1920x1080,,40,1,118.123456789,31.5,"
    f"Main St,340202,no,{NVR},Hikvision,DS-2\n"
    f'{P2},=HYPERLINK("x"),34020201,SCH,Ninth School,2,wireless,704x576,yes,,,,,'
    "-minus,,yes,,,\n"
    f"{P3},Shop,340203,ORG-B,,3,internet,,,,,,,,,,,,\n"
)


async def _seed(conn: AsyncConnection) -> None:
    report = await import_ledger(conn, UNRESTRICTED, LEDGER.encode(), retention=RETENTION)
    assert report.errors == ()


async def _snapshot(conn: AsyncConnection) -> list[object]:
    page = await list_channels(conn, UNRESTRICTED, retention=RETENTION, limit=500)
    return [(item, item.updated_at) for item in page.items]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_export_reimports_unchanged(conn: AsyncConnection, fmt: str, lang: str) -> None:
    await _seed(conn)
    before = await _snapshot(conn)
    exported = await export_ledger(conn, UNRESTRICTED, fmt=fmt, lang=lang)  # type: ignore[arg-type]
    report = await import_ledger(conn, UNRESTRICTED, exported, retention=RETENTION)
    assert report.errors == ()
    assert (report.rows, report.unchanged, report.created, report.updated) == (3, 3, 0, 0)
    assert await _snapshot(conn) == before


async def test_export_into_a_fresh_database_recreates_the_points(conn: AsyncConnection) -> None:
    await _seed(conn)
    exported = await export_ledger(conn, UNRESTRICTED, fmt="csv", lang="zh")
    before = [
        (item.name, item.org_id, item.point_class, item.longitude, item.hd, item.address)
        for item in (await list_channels(conn, UNRESTRICTED, retention=RETENTION)).items
    ]
    changed = await update_channel(
        conn, UNRESTRICTED, P1, {"name": "changed", "longitude": None}, retention=RETENTION
    )
    assert changed.name == "changed"
    report = await import_ledger(conn, UNRESTRICTED, exported, retention=RETENTION)
    assert (report.updated, report.unchanged) == (1, 2)
    after = [
        (item.name, item.org_id, item.point_class, item.longitude, item.hd, item.address)
        for item in (await list_channels(conn, UNRESTRICTED, retention=RETENTION)).items
    ]
    assert after == before


async def test_csv_is_utf8_with_bom_and_chinese_headers(conn: AsyncConnection) -> None:
    await _seed(conn)
    exported = await export_ledger(conn, UNRESTRICTED, fmt="csv", lang="zh")
    assert exported.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"))))
    assert rows[0][:4] == ["国标编码", "名称", "行政区划", "建设单位编码"]
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["名称"], first["点位类别"], first["联网网络"]) == (
        "萳溪 Gate",
        "一类",
        "公安视频专网",
    )
    assert (first["建设单位"], first["高清"], first["存储天数"]) == ("镜湖区公安分局", "是", "40")
    second = dict(zip(rows[0], rows[2], strict=True))
    # Text a spreadsheet would run as a formula is defused.
    assert second["名称"] == '\'=HYPERLINK("x")'
    assert second["安装地址"] == "'-minus"
    assert second["存储天数"] == ""  # class default: no override


async def test_xlsx_keeps_formula_like_text_as_text(conn: AsyncConnection) -> None:
    await _seed(conn)
    exported = await export_ledger(conn, UNRESTRICTED, fmt="xlsx", lang="en")
    sheet = load_workbook(io.BytesIO(exported)).worksheets[0]
    assert sheet["B3"].value == '=HYPERLINK("x")'
    assert sheet["B3"].data_type == "s"
    assert sheet["A1"].value == "id"
    assert sheet["A2"].value == P1


async def test_export_honours_scope_and_filter(conn: AsyncConnection) -> None:
    await _seed(conn)
    scoped = (await export_ledger(conn, SCOPE_A, fmt="csv", lang="en")).decode("utf-8-sig")
    assert P1 in scoped
    assert P2 in scoped
    assert P3 not in scoped
    filtered = await export_ledger(
        conn, UNRESTRICTED, ChannelFilter(network="wireless"), fmt="csv", lang="en"
    )
    lines = filtered.decode("utf-8-sig").splitlines()
    assert len(lines) == 2
    assert lines[1].startswith(P2)
