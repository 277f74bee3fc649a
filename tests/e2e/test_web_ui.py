"""The operator web UI in a real Chromium against a real `vigil serve`.

Scenarios: sign in; import a ledger whose bad rows are reported by row and column with
nothing applied, then the corrected file; filter the point list by class, text and region
tree; edit a point with per-field errors; export; switch language; a viewer scoped to one
county sees only that county.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_pages import sign_in

pytestmark = pytest.mark.e2e

REGIONS = (("3402", "芜湖市"), ("340202", "镜湖区"), ("340207", "鸠江区"))
HEADER = "编码,名称,行政区划,建设单位编码,建设单位,点位类别,联网网络,分辨率\n"
# The module's shared ledger: two points in each county.
BASE_ROWS = (
    "34020200001310000001,镜湖 中山路口,340202,JH-PSB,镜湖区公安分局,1,公安视频专网,1920x1080\n"
    "34020200001310000002,镜湖 第一中学,340202,WH-SCH1,芜湖市第一中学,2,社会视频资源网,1280x720\n"
    "34020700001310000003,鸠江 火车站,340207,JJ-PSB,鸠江区公安分局,1,公安视频专网,1920x1080\n"
    "34020700001310000004,鸠江 沿街商铺,340207,JJ-SHOP,沿街商户,3,互联网,704x576\n"
)
# Imported through the page by the import scenario only.
IMPORT_GOOD_ROWS = (
    "34020200001310000011,镜湖 赭山公园,340202,JH-PSB,镜湖区公安分局,1,公安视频专网,1920x1080\n"
    "34020700001310000012,鸠江 汽车站,340207,JJ-BUS,鸠江汽车站管理处,2,社会视频资源网,1280x720\n"
)
IMPORT_BAD_ROWS = (
    "340202000013100013,镜湖 短编码,340202,JH-PSB,镜湖区公安分局,1,公安视频专网,1920x1080\n"
    "34099900001310000014,未知区划,349999,JH-PSB,镜湖区公安分局,2,公安视频专网,1920x1080\n"
)
VIEWER = ("jh-viewer", "viewer-Secret-42")
MakePage = Callable[[str], Page]


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def row_ids(page: Page) -> list[str]:
    return page.locator("[data-testid=channel-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.id)"
    )


def wait_rows(page: Page, check: Callable[[list[str]], bool], what: str) -> list[str]:
    """Waits until the table is idle and its row ids satisfy ``check``; returns them."""
    seen: list[str] = []

    def done() -> bool:
        nonlocal seen
        if page.locator("[data-testid=channel-table][aria-busy]").count():
            return False
        seen = row_ids(page)
        return check(seen)

    try:
        wait_until(done, what)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}; rows are {seen}") from None
    return seen


def sign_out(page: Page) -> None:
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-username")).to_be_visible()


@pytest.fixture(scope="module")
def regions(admin_api: httpx.Client) -> None:
    for code, name in REGIONS:
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201), answer.text


@pytest.fixture(scope="module")
def ledger(admin_api: httpx.Client, regions: None) -> None:
    """The shared points, imported through the API (importing again changes nothing)."""
    answer = admin_api.post(
        "/ledger/import",
        files={"file": ("base.csv", (HEADER + BASE_ROWS).encode("utf-8"), "text/csv")},
    )
    assert answer.status_code == 200, answer.text


def test_sign_in_and_out(page: Page, admin_password: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"#/login"))
    page.get_by_test_id("login-username").fill("admin")
    page.get_by_test_id("login-password").fill("not-the-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_be_visible()

    page.get_by_test_id("login-password").fill(admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("current-user")).to_have_attribute("data-username", "admin")
    expect(page).to_have_url(re.compile(r"#/points"))
    for nav in ("nav-points", "nav-import", "nav-users", "nav-audit"):
        expect(page.get_by_test_id(nav)).to_be_visible()

    sign_out(page)
    page.goto("/#/users")  # signed out: every page leads back to the sign-in form
    expect(page.get_by_test_id("login-username")).to_be_visible()


def test_import_reports_bad_rows_and_applies_nothing(
    page: Page, admin_api: httpx.Client, regions: None, admin_password: str
) -> None:
    sign_in(page, "admin", admin_password)
    page.get_by_test_id("nav-import").click()

    bad = (HEADER + IMPORT_GOOD_ROWS + IMPORT_BAD_ROWS).encode("utf-8")
    page.get_by_test_id("import-file").set_input_files(
        files=[{"name": "bad-ledger.csv", "mimeType": "text/csv", "buffer": bad}]
    )
    page.get_by_test_id("import-submit").click()
    errors = page.get_by_test_id("import-error-row")
    expect(errors.first).to_be_visible()
    reported = {(r.get_attribute("data-row"), r.get_attribute("data-column")) for r in errors.all()}
    assert ("4", "编码") in reported, reported
    assert ("5", "行政区划") in reported, reported
    expect(page.get_by_test_id("import-error-table")).to_contain_text("编码")
    for point_id in ("34020200001310000011", "34020700001310000012"):
        assert admin_api.get(f"/channels/{point_id}").status_code == 404

    good = (HEADER + IMPORT_GOOD_ROWS).encode("utf-8")
    page.get_by_test_id("import-file").set_input_files(
        files=[{"name": "ledger.csv", "mimeType": "text/csv", "buffer": good}]
    )
    page.get_by_test_id("import-dry-run").check()
    page.get_by_test_id("import-submit").click()
    expect(page.get_by_test_id("import-report")).to_have_attribute("data-dry-run", "true")
    expect(page.get_by_test_id("import-created")).to_have_text("2")
    assert admin_api.get("/channels/34020200001310000011").status_code == 404

    page.get_by_test_id("import-dry-run").uncheck()
    page.get_by_test_id("import-submit").click()
    expect(page.get_by_test_id("import-report")).to_have_attribute("data-dry-run", "false")
    expect(page.get_by_test_id("import-outcome")).to_be_visible()
    expect(page.get_by_test_id("import-rows")).to_have_text("2")
    expect(page.get_by_test_id("import-created")).to_have_text("2")
    assert admin_api.get("/channels/34020200001310000011").status_code == 200

    page.get_by_test_id("nav-points").click()
    page.get_by_test_id("filter-text").fill("赭山公园")
    wait_rows(page, lambda ids: ids == ["34020200001310000011"], "the imported point")


def test_filters_and_region_tree(page: Page, ledger: None, admin_password: str) -> None:
    sign_in(page, "admin", admin_password)
    wait_rows(page, lambda ids: {"34020200001310000001", "34020700001310000004"} <= set(ids), "all")

    page.get_by_test_id("filter-class").select_option("1")
    ids = wait_rows(
        page,
        lambda ids: "34020200001310000001" in ids and "34020200001310000002" not in ids,
        "class 1 points",
    )
    classes = page.locator("[data-testid=channel-row]").evaluate_all(
        "rows => rows.map(r => r.dataset.pointClass)"
    )
    assert set(classes) == {"1"}, (ids, classes)
    assert "34020700001310000003" in ids
    expect(page).to_have_url(re.compile(r"class=1"))

    page.get_by_test_id("filter-text").fill("鸠江")
    wait_rows(page, lambda ids: ids == ["34020700001310000003"], "class 1 points named 鸠江")

    page.get_by_test_id("filter-clear").click()
    wait_rows(page, lambda ids: len(ids) >= 4, "every point again")

    page.locator("[data-testid=tree-node][data-code='340207']").click()
    ids = wait_rows(
        page,
        lambda ids: bool(ids) and all(i.startswith("340207") for i in ids),
        "the points of 鸠江区",
    )
    assert {"34020700001310000003", "34020700001310000004"} <= set(ids)
    expect(page.get_by_test_id("region-chip")).to_contain_text("鸠江区")
    tree_count = page.locator(
        "[data-testid=tree-node][data-code='340207'] [data-testid=tree-count]"
    )
    expect(tree_count).to_contain_text(f"/{len(ids)}")

    # organisations: the filter bar's select and the sidebar's list filter alike
    page.get_by_test_id("filter-clear").click()
    page.get_by_test_id("filter-org").select_option(label="鸠江区公安分局")
    wait_rows(page, lambda ids: ids == ["34020700001310000003"], "the points of 鸠江区公安分局")
    page.get_by_test_id("sidebar-tab-orgs").click()
    page.get_by_test_id("org-node").filter(has_text="沿街商户").click()
    wait_rows(page, lambda ids: ids == ["34020700001310000004"], "the points of 沿街商户")
    expect(page.get_by_test_id("filter-org").locator("option:checked")).to_have_text("沿街商户")

    # a status change pushed for one channel updates its badge in place
    row = page.locator("[data-testid=channel-row][data-id='34020700001310000004']")
    page.evaluate(
        "id => window.vigil.publishChannelStatus({id, online: true})", "34020700001310000004"
    )
    expect(row.get_by_test_id("online-badge")).to_have_attribute("data-online", "true")


def test_point_edit_shows_field_errors_then_saves(
    page: Page, admin_api: httpx.Client, ledger: None, admin_password: str
) -> None:
    sign_in(page, "admin", admin_password)
    page.goto("/#/points/34020700001310000004")
    expect(page.get_by_test_id("point-form")).to_be_visible()
    expect(page.get_by_test_id("point-name")).to_have_value("鸠江 沿街商铺")

    page.get_by_test_id("point-longitude").fill("500")
    page.get_by_test_id("point-save").click()
    expect(page.get_by_test_id("field-error-longitude")).not_to_be_empty()
    expect(page.get_by_test_id("point-longitude")).to_have_attribute("aria-invalid", "true")
    assert admin_api.get("/channels/34020700001310000004").json()["longitude"] != 500

    page.get_by_test_id("point-longitude").fill("118.43")
    page.get_by_test_id("point-latitude").fill("31.35")
    page.get_by_test_id("point-address").fill("鸠江区 九华北路 8 号")
    page.get_by_test_id("point-save").click()
    expect(page.get_by_test_id("point-saved")).to_be_visible()
    saved = admin_api.get("/channels/34020700001310000004").json()
    assert saved["longitude"] == pytest.approx(118.43)
    assert saved["address"] == "鸠江区 九华北路 8 号"


def test_export_downloads_the_filtered_ledger(
    page: Page, ledger: None, admin_password: str
) -> None:
    sign_in(page, "admin", admin_password)
    page.locator("[data-testid=tree-node][data-code='340202']").click()
    wait_rows(page, lambda ids: bool(ids) and all(i.startswith("340202") for i in ids), "镜湖区")
    with page.expect_download() as info:
        page.get_by_test_id("export-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_bytes().decode("utf-8-sig", errors="replace")
    assert "34020200001310000001" in text
    assert "34020700001310000003" not in text


def test_language_switch(make_page: MakePage, admin_password: str) -> None:
    page = make_page("zh-CN")
    page.goto("/")
    expect(page.get_by_test_id("login-submit")).to_have_text("登录")  # from the browser
    page.get_by_test_id("lang-switch").select_option("en")
    expect(page.get_by_test_id("login-submit")).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    sign_in(page, "admin", admin_password)
    expect(page.get_by_test_id("nav-points")).to_have_text("Collection points")
    expect(page.get_by_test_id("filter-class").locator("option[value='1']")).to_have_text("Class 1")
    page.get_by_test_id("lang-switch").select_option("zh")
    expect(page.get_by_test_id("nav-points")).to_have_text("采集点位")
    expect(page.get_by_test_id("nav-import")).to_have_text("台账导入")
    expect(page.locator("label[for=filter-class]")).to_have_text("点位类别")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    page.reload()  # the choice is remembered
    expect(page.get_by_test_id("nav-points")).to_have_text("采集点位")
    page.get_by_test_id("lang-switch").select_option("en")
    expect(page.get_by_test_id("logout")).to_have_text("Sign out")


def test_viewer_scoped_to_one_county(
    make_page: MakePage, page: Page, ledger: None, admin_password: str
) -> None:
    sign_in(page, "admin", admin_password)
    page.get_by_test_id("nav-users").click()
    expect(page.get_by_test_id("role-row").first).to_be_visible()
    page.get_by_test_id("user-create").click()
    page.get_by_test_id("user-username").fill(VIEWER[0])
    page.get_by_test_id("user-display-name").fill("镜湖 查看员")
    page.get_by_test_id("user-password-input").fill(VIEWER[1])
    page.get_by_test_id("user-role").select_option("viewer")
    page.get_by_test_id("user-scope-regions").select_option(["340202"])
    page.get_by_test_id("user-dialog-submit").click()
    row = page.locator(f"[data-testid=user-row][data-username='{VIEWER[0]}']")
    expect(row).to_contain_text("340202")
    sign_out(page)

    viewer = make_page("en-US")
    sign_in(viewer, *VIEWER)
    ids = wait_rows(viewer, lambda ids: len(ids) >= 2, "the viewer's points")
    assert {"34020200001310000001", "34020200001310000002"} <= set(ids)
    assert all(i.startswith("340202") for i in ids), ids
    expect(viewer.locator("[data-testid=tree-node][data-code='340207']")).to_have_count(0)
    for hidden in ("nav-import", "nav-users", "nav-audit", "export-csv"):
        expect(viewer.get_by_test_id(hidden)).to_have_count(0)

    viewer.goto("/#/points/34020700001310000003")  # the other county's point
    expect(viewer.get_by_test_id("point-error")).to_be_visible()
    expect(viewer.get_by_test_id("point-form")).to_have_count(0)

    viewer.goto("/#/points/34020200001310000001")  # its own: shown, read only
    expect(viewer.get_by_test_id("point-readonly")).to_be_visible()
    expect(viewer.get_by_test_id("point-save")).to_have_count(0)


def test_user_actions(page: Page, admin_api: httpx.Client, admin_password: str) -> None:
    created = admin_api.post(
        "/users",
        json={"username": "duty-2", "password": "first-Secret-42", "role": "operator"},
    )
    assert created.status_code == 201, created.text
    base = str(admin_api.base_url).rstrip("/")

    def can_log_in(password: str) -> bool:
        answer = httpx.post(
            f"{base}/auth/login", json={"username": "duty-2", "password": password}, timeout=30
        )
        return answer.status_code == 200

    sign_in(page, "admin", admin_password)
    page.get_by_test_id("nav-users").click()
    row = page.locator("[data-testid=user-row][data-username='duty-2']")

    row.get_by_test_id("user-password").click()
    page.get_by_test_id("user-new-password").fill("second-Secret-42")
    page.get_by_test_id("password-dialog-submit").click()
    expect(page.get_by_test_id("password-dialog")).to_have_count(0)
    assert can_log_in("second-Secret-42")

    row.get_by_test_id("user-disable").click()
    page.get_by_test_id("disable-dialog-submit").click()
    expect(row).to_have_attribute("data-disabled", "true")
    assert not can_log_in("second-Secret-42")

    row.get_by_test_id("user-enable").click()
    expect(row).to_have_attribute("data-disabled", "false")
    assert can_log_in("second-Secret-42")

    row.get_by_test_id("user-revoke").click()
    page.get_by_test_id("revoke-dialog-submit").click()
    expect(page.get_by_test_id("toast").last).to_contain_text("duty-2")
