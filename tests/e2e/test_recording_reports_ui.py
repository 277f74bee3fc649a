"""The coverage report and the alarms page in a real Chromium against a real `vigil serve`.

The platform runs with a minimum free space larger than any disk, so its first retention
pass finds the default pool full with nothing it may purge and raises a storage alarm.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_pages import sign_in
from tests.e2e.conftest import Server, run_server

pytestmark = pytest.mark.e2e

MakePage = Callable[[str], Page]
LEDGER = (
    "id,name,region_code,org_code,org_name,point_class,network,resolution\n"
    "34020200001310000001,镜湖 路口 1,340202,JH-PSB,镜湖区公安分局,1,police_video,1920x1080\n"
    "34020200001310000002,镜湖 学校 2,340202,WH-SCH1,芜湖市第一中学,2,social_video,1280x720\n"
    "34020700001310000004,鸠江 商店 4,340207,JJ-SHOP,沿街商户,3,internet,704x576\n"
).encode()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    extra = {"VIGIL_RECORDING__MIN_FREE_BYTES": str(10**18), "VIGIL_RECORDING__ENABLED": "false"}
    with run_server(tmp_path_factory, extra) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(admin_api: httpx.Client) -> None:
    for code, name in (("3402", "芜湖市"), ("340202", "镜湖区"), ("340207", "鸠江区")):
        assert admin_api.post("/regions", json={"code": code, "name": name}).status_code == 201
    answer = admin_api.post("/ledger/import", files={"file": ("ledger.csv", LEDGER, "text/csv")})
    assert answer.status_code == 200, answer.text


def test_coverage_report_renders_and_exports(
    make_page: MakePage, seeded: None, admin_password: str
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password, "/#/login?next=/coverage")
    page.get_by_test_id("nav-coverage").click()
    rows = page.get_by_test_id("coverage-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("coverage-kpi")).to_have_attribute("data-total", "2")
    expect(page.get_by_test_id("coverage-kpi")).to_contain_text("0 of 2 points")
    first = page.locator("[data-testid=coverage-row][data-id='34020200001310000001']")
    expect(first.get_by_test_id("coverage-cell")).to_have_count(7)
    expect(first).to_have_attribute("data-meets", "false")
    # Nothing is recorded: every elapsed day is red, with its gap on hover.
    today = first.get_by_test_id("coverage-cell").last
    expect(today).to_have_class(re.compile(r"\bcoverage-zero\b"))
    expect(today).to_have_attribute("title", re.compile(r"unknown"))
    local = page.locator("[data-testid=coverage-row][data-id='34020700001310000004']")
    expect(local).to_have_attribute("data-meets", "null")

    page.get_by_test_id("coverage-class").select_option("2")
    page.get_by_test_id("coverage-apply").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-id", "34020200001310000002")

    with page.expect_download() as download_info:
        page.get_by_test_id("coverage-xlsx").click()
    download = download_info.value
    assert download.suggested_filename.startswith("coverage-")
    data = Path(download.path()).read_bytes()
    sheet = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    assert sheet is not None
    table = list(sheet.iter_rows(values_only=True))
    assert table[0][0] == "Point ID"
    assert {row[0] for row in table[1:]} == {"34020200001310000002"}

    # Chinese labels after switching language.
    page.get_by_test_id("lang-switch").select_option("zh")
    expect(page.locator("#coverage-title")).to_have_text("录像完整性报表")


def test_alarms_page_shows_and_acknowledges_the_storage_alarm(
    make_page: MakePage, admin_password: str
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password, "/#/login?next=/alarms")
    page.get_by_test_id("nav-alarms").click()
    row = page.locator("[data-testid=alarm-row][data-kind=storage_full]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("storage full")
    expect(row).to_contain_text("critical")
    expect(row).to_contain_text("default")
    row.get_by_test_id("alarm-ack").click()
    expect(row.get_by_test_id("alarm-acked")).to_contain_text("acknowledged by admin")
