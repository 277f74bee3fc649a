"""Ledger import: encodings, both header languages, XLSX, all-or-nothing, idempotence."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.db.tables import channels, devices, organisations
from vigil.registry.channels import ChannelFilter, get_channel, list_channels
from vigil.registry.errors import LedgerError
from vigil.registry.ledger_import import ImportReport, import_ledger
from vigil.registry.ledger_reader import LedgerLimits
from vigil.registry.organisations import get_organisation_by_code
from vigil.registry.scope import UNRESTRICTED, Scope

from .seed import COUNTY_A, COUNTY_B, RETENTION, SCOPE_A, point_id

P1, P2, P3 = point_id(COUNTY_A, 1), point_id(COUNTY_A, 2), point_id(COUNTY_B, 3)

ENGLISH = (
    "id,name,region_code,org_code,org_name,point_class,network,resolution,retention_days,"
    "longitude,latitude,address,device_id,secrecy\n"
    f"{P1},Gate 1,340202,ORG-A,,1,police_video,1920x1080,40,118.38,31.33,Main St,,no\n"
    f"{P2},School 2,34020200,SCH-9,Ninth School,2,social_video,704x576,,,,Yard,"
    f"{point_id(COUNTY_A, 9, 118)},yes\n"
    f"{P3},Shop 3,340203,,,3,internet,,,,,,,\n"
)

CHINESE = (
    "国标编码,名称,行政区划,建设单位编码,建设单位,点位类别,联网网络,分辨率,高清,经度,纬度,安装地址\n"
    f"{P1},萳溪路口 1,340202,ORG-A,,一类,公安视频专网,1920x1080,是,118.38,31.33,萳溪路\n"
    f"{P2},学校 2,340202,,,二类,视频共享网,D1,否,,,\n"
)


async def _import(
    conn: AsyncConnection, data: bytes, scope: Scope = UNRESTRICTED, **options: object
) -> ImportReport:
    return await import_ledger(conn, scope, data, retention=RETENTION, **options)  # type: ignore[arg-type]


async def _count(conn: AsyncConnection) -> int:
    return int(await conn.scalar(select(func.count()).select_from(channels)) or 0)


async def test_english_csv_creates_points_owners_and_devices(conn: AsyncConnection) -> None:
    report = await _import(conn, ENGLISH.encode())
    assert report.errors == ()
    assert (report.rows, report.created, report.updated, report.unchanged) == (3, 3, 0, 0)
    assert (report.orgs_created, report.devices_created) == (1, 1)
    assert report.applied
    gate = await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)
    org_a = await get_organisation_by_code(conn, UNRESTRICTED, "ORG-A")
    assert (gate.name, gate.org_id, gate.point_class, gate.hd) == ("Gate 1", org_a.id, 1, True)
    assert (gate.retention_days, gate.longitude, gate.secrecy) == (40, 118.38, False)
    school = await get_channel(conn, UNRESTRICTED, P2, retention=RETENTION)
    new_org = await get_organisation_by_code(conn, UNRESTRICTED, "SCH-9")
    assert (new_org.name, new_org.region_code) == ("Ninth School", COUNTY_A)
    assert (school.org_id, school.device_id, school.secrecy) == (
        new_org.id,
        point_id(COUNTY_A, 9, 118),
        True,
    )
    assert (school.hd, school.retention_days, school.network) == (False, 15, "social_video")
    device_region = await conn.scalar(select(devices.c.region_code))
    assert device_region == COUNTY_A


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
async def test_chinese_headers_in_every_encoding(conn: AsyncConnection, encoding: str) -> None:
    data = CHINESE.encode(encoding)
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            data.decode("gb2312")  # 萳 lies outside GB2312: the file needs real GB18030
    report = await _import(conn, data)
    assert report.errors == ()
    assert report.created == 2
    gate = await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)
    assert (gate.name, gate.address, gate.network) == ("萳溪路口 1", "萳溪路", "police_video")
    school = await get_channel(conn, UNRESTRICTED, P2, retention=RETENTION)
    assert (school.point_class, school.network, school.resolution) == (
        2,
        "social_video",
        "720x576",
    )


async def test_xlsx_with_typed_cells_and_a_caption_row(conn: AsyncConnection) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["镜湖区视频监控点位台账"])  # caption above the header
    sheet.append(["编码", "名称", "行政区划", "点位类别", "经度", "高清", "存储天数"])
    sheet.append([P1, "路口", 340202, 1, 118.5, True, 30])
    sheet.append([])
    sheet.append([P2, "学校", "340202", 3.0, None, False, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = await _import(conn, buffer.getvalue())
    assert report.errors == ()
    assert report.created == 2
    gate = await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)
    assert (gate.longitude, gate.hd, gate.retention_override) == (118.5, True, 30)


async def test_a_code_stored_as_a_number_is_reported_not_mangled(conn: AsyncConnection) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["id", "name", "region_code", "point_class"])
    sheet.append([float(P1), "rounded", "340202", 1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = await _import(conn, buffer.getvalue())
    assert [(e.row, e.column) for e in report.errors] == [(2, "id")]
    assert "lost digits" in report.errors[0].reason


async def test_every_bad_row_is_reported_and_nothing_is_applied(conn: AsyncConnection) -> None:
    ledger = (
        "编码,名称,行政区划,点位类别,经度,建设单位编码,存储天数\n"
        f"{P1},good,340202,1,118,,\n"  # row 2: fine on its own
        "3402020000132000001,short id,340202,1,,,\n"  # row 3
        f"{point_id(COUNTY_A, 4, 118)},an NVR,340202,1,,,\n"  # row 4
        f"{point_id(COUNTY_A, 5)},unknown region,340299,1,,,\n"  # row 5
        f"{point_id(COUNTY_A, 6)},bad class,340202,四类,east,,\n"  # row 6
        f"{point_id(COUNTY_A, 7)},,340202,1,,,\n"  # row 7
        f"{point_id(COUNTY_A, 8)},no org,340202,1,,NOPE,\n"  # row 8
        f"{point_id(COUNTY_A, 9)},short keep,340202,1,,,10\n"  # row 9
        f"{P1},dup,340202,1,,,\n"  # row 10
        f"{point_id(COUNTY_A, 11)},far,340202,1,200,,\n"  # row 11
    )
    report = await _import(conn, ledger.encode())
    located = {(error.row, error.column) for error in report.errors}
    assert located == {
        (3, "编码"), (4, "编码"), (5, "行政区划"), (6, "点位类别"), (6, "经度"), (7, "名称"),
        (8, "建设单位编码"), (9, "存储天数"), (10, "编码"), (11, "经度"),
    }  # fmt: skip
    reasons = {(error.row, error.column): error.reason for error in report.errors}
    assert "20 digits" in reasons[(3, "编码")]
    assert "type 118 (NVR)" in reasons[(4, "编码")]
    assert "340299 is not registered" in reasons[(5, "行政区划")]
    assert "'east'" in reasons[(6, "经度")]
    assert "required" in reasons[(7, "名称")]
    assert "NOPE is not registered" in reasons[(8, "建设单位编码")]
    assert "class 1 minimum of 30" in reasons[(9, "存储天数")]
    assert "rows 2 and 10" in reasons[(10, "编码")]
    assert report.error_count == len(report.errors) == 10
    assert not report.applied
    assert await _count(conn) == 0


async def test_header_problems(conn: AsyncConnection) -> None:
    report = await _import(conn, f"编码,名字,点位类别,colour\n{P1},x,1,red\n".encode())
    reasons = {(error.row, error.column): error.reason for error in report.errors}
    assert reasons[(1, "名字")].startswith("unknown column header")
    assert "name (名称)" in reasons[(1, "名字")]  # it says what the columns are called
    assert reasons[(1, "colour")].startswith("unknown column header")
    assert reasons[(1, "name (名称)")] == "required column is missing"
    assert reasons[(1, "region_code (行政区划)")] == "required column is missing"
    assert len(reasons) == 4
    repeated = await _import(
        conn, f"id,编码,name,region_code,point_class\n{P1},{P1},n,34,1\n".encode()
    )
    assert [(e.row, e.column) for e in repeated.errors] == [(1, "编码")]


async def test_scope_is_enforced_on_import(conn: AsyncConnection) -> None:
    report = await _import(conn, ENGLISH.encode(), SCOPE_A)
    assert [(e.row, e.column) for e in report.errors] == [(4, "region_code")]
    assert "outside your scope" in report.errors[0].reason
    assert await _count(conn) == 0
    # A point registered in county B cannot be taken over by re-filing it under county A.
    await _import(conn, f"id,name,region_code,point_class\n{P3},b,340203,3\n".encode())
    takeover = await _import(
        conn, f"id,name,region_code,point_class\n{P3},mine,340202,3\n".encode(), SCOPE_A
    )
    assert [(e.row, e.column) for e in takeover.errors] == [(2, "id")]
    point = await get_channel(conn, UNRESTRICTED, P3, retention=RETENTION)
    assert point.region_code == COUNTY_B


async def test_reimport_is_idempotent_and_updates_only_what_changed(
    conn: AsyncConnection,
) -> None:
    first = await _import(conn, ENGLISH.encode())
    assert first.created == 3
    before = await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)
    again = await _import(conn, ENGLISH.encode())
    assert (again.created, again.updated, again.unchanged, again.orgs_created) == (0, 0, 3, 0)
    assert (await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)) == before
    edited = await _import(conn, ENGLISH.replace("Gate 1", "Gate One").encode())
    assert (edited.updated, edited.unchanged) == (1, 2)
    assert (await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)).name == "Gate One"


async def test_columns_absent_from_the_file_are_left_alone(conn: AsyncConnection) -> None:
    await _import(conn, ENGLISH.encode())
    slim = f"id,name,region_code,point_class\n{P1},Gate 1,340202,1\n"
    report = await _import(conn, slim.encode())
    assert report.unchanged == 1
    gate = await get_channel(conn, UNRESTRICTED, P1, retention=RETENTION)
    assert (gate.address, gate.retention_override, gate.resolution) == ("Main St", 40, "1920x1080")


async def test_dry_run_checks_and_counts_but_writes_nothing(conn: AsyncConnection) -> None:
    report = await _import(conn, ENGLISH.encode(), dry_run=True)
    assert (report.created, report.orgs_created, report.dry_run) == (3, 1, True)
    assert not report.applied
    assert await _count(conn) == 0
    assert await conn.scalar(select(func.count()).select_from(organisations)) == 2


async def test_input_bounds_become_errors(conn: AsyncConnection) -> None:
    rows = "".join(f"{point_id(COUNTY_A, n)},p{n},340202,3\n" for n in range(1, 6))
    report = await _import(
        conn, f"id,name,region_code,point_class\n{rows}".encode(), limits=LedgerLimits(max_rows=3)
    )
    assert report.rows == 3
    assert any("more than 3 data rows" in error.reason for error in report.errors)
    assert await _count(conn) == 0
    long_name = "x" * 5000
    report = await _import(
        conn, f"id,name,region_code,point_class\n{P1},{long_name},340202,3\n".encode()
    )
    assert [(e.row, e.column) for e in report.errors] == [(2, "name")]
    report = await _import(
        conn, f"id,name,region_code,point_class\n{P1},{'y' * 300},340202,3\n".encode()
    )
    assert "at most 200" in report.errors[0].reason


async def test_unreadable_files_raise_ledger_error(conn: AsyncConnection) -> None:
    for data in (
        b"",
        b"\n\n  \n",
        b"PK\x03\x04 not a zip",
        b"\xd0\xcf\x11\xe0legacy",
        b"\xff\xfe\x00",
    ):
        with pytest.raises(LedgerError):
            await _import(conn, data)


async def test_imported_points_are_listed_for_their_region_only(conn: AsyncConnection) -> None:
    await _import(conn, ENGLISH.encode())
    page = await list_channels(conn, SCOPE_A, ChannelFilter(), retention=RETENTION)
    assert sorted(item.id for item in page.items) == [P1, P2]
