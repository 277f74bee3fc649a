"""The recording panel of a point's page: the class default shown, an override with weekly
hours saved through the API, and back to the default."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_pages import sign_in

from .test_web_ui import wait_until

pytestmark = pytest.mark.e2e

POINT = "34020700001310000004"  # class 3: not recorded by default
LEDGER = (
    "编码,名称,行政区划,建设单位编码,建设单位,点位类别,联网网络,分辨率\n"
    f"{POINT},鸠江 沿街商铺,340207,JJ-SHOP,沿街商户,3,互联网,704x576\n"
)


@pytest.fixture(scope="module")
def point(admin_api: httpx.Client) -> str:
    for code, name in (("3402", "芜湖市"), ("340207", "鸠江区")):
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201, 409), answer.text
    answer = admin_api.post(
        "/ledger/import", files={"file": ("p.csv", LEDGER.encode("utf-8"), "text/csv")}
    )
    assert answer.status_code == 200, answer.text
    return POINT


def test_override_with_weekday_hours_then_reset(
    page: Page, admin_api: httpx.Client, point: str, admin_password: str
) -> None:
    sign_in(page, "admin", admin_password)
    page.goto(f"/#/points/{point}")
    panel = page.get_by_test_id("recording-policy")
    expect(panel.get_by_test_id("policy-state")).to_have_text("Not recorded")
    expect(panel.get_by_test_id("policy-mode")).to_have_value("default")

    panel.get_by_test_id("policy-mode").select_option("on")
    panel.get_by_test_id("policy-always").uncheck()
    for day in (1, 2, 3, 5, 6):  # keep Monday (0) and Friday (4)
        panel.get_by_test_id(f"policy-day-{day}").uncheck()
    panel.get_by_test_id("policy-from").fill("08:00")
    panel.get_by_test_id("policy-to").fill("20:00")
    panel.get_by_test_id("policy-save").click()
    expect(panel.get_by_test_id("policy-updated-by")).to_have_text("Last changed by admin")

    stored = admin_api.get(f"/channels/{point}/recording-policy").json()
    assert stored["enabled"] is True
    assert stored["schedule"] == [[0, 480, 1200], [4, 480, 1200]]
    assert stored["override"]["updated_by"] == "admin"

    page.reload()
    expect(panel.get_by_test_id("policy-always")).not_to_be_checked()
    expect(panel.get_by_test_id("policy-day-4")).to_be_checked()
    expect(panel.get_by_test_id("policy-day-2")).not_to_be_checked()
    expect(panel.get_by_test_id("policy-from")).to_have_value("08:00")

    panel.get_by_test_id("policy-mode").select_option("default")
    panel.get_by_test_id("policy-always").check()
    panel.get_by_test_id("policy-save").click()
    expect(panel.get_by_test_id("policy-mode")).to_have_value("default")
    expect(panel.get_by_test_id("policy-always")).to_be_checked()
    expect(panel.get_by_test_id("policy-state")).to_have_text("Not recorded")

    def back_to_default() -> bool:
        again = admin_api.get(f"/channels/{point}/recording-policy").json()
        return (again["enabled"], again["schedule"]) == (False, [])

    wait_until(back_to_default, "the class default to be stored")
