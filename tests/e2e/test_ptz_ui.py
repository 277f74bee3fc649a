"""PTZ controls of the live view in a real Chromium against a real `vigil serve` and a simulated
NVR (`vigil sim --channels 2`: channel 1 a dome, channel 2 a fixed bullet): the controls appear
for the dome and only to a user allowed to steer; pressing and releasing a direction sends a
move and a stop that reach the camera (its Response is in the audit log), and a preset is set.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_pages import open_live_grid_of_one, sign_in
from tests.e2e.conftest import (
    Server,
    add_regions,
    online_channels,
    run_signalling_server,
    simulated_devices,
)

pytestmark = pytest.mark.e2e

VIEWER = ("ptz-watcher", "watcher-Secret-42")
MakePage = Callable[[str], Page]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sip_port: int) -> Iterator[Server]:
    with run_signalling_server(tmp_path_factory, sip_port) as running:
        yield running


@pytest.fixture(scope="module")
def points(server: Server, sip_port: int, admin_api: httpx.Client) -> Iterator[dict[int, str]]:
    """A simulated NVR with a dome and a fixed camera, registered and in the ledger:
    {PTZType: channel ID}."""
    add_regions(admin_api)
    with simulated_devices(
        server,
        sip_port,
        ["--devices", "1", "--channels", "2"],
        lambda: len(online_channels(admin_api)) == 2,
        "the simulated NVR",
    ):
        yield {item["ptz_type"]: item["id"] for item in online_channels(admin_api)}


def _sign_in_to_live(page: Page, username: str, password: str) -> None:
    sign_in(page, username, password)
    open_live_grid_of_one(page)


def _ptz_records(admin_api: httpx.Client, count: int) -> list[dict[str, Any]]:
    """The newest ``count`` PTZ audit records, oldest first, once there are that many."""
    deadline = time.monotonic() + 10
    while True:
        answer = admin_api.get("/audit", params={"action": "ptz.control"})
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return items[:count][::-1]
        time.sleep(0.2)


def test_ptz_controls_steer_the_dome(
    make_page: MakePage, admin_password: str, admin_api: httpx.Client, points: dict[int, str]
) -> None:
    dome, fixed = points[1], points[3]
    page = make_page("en-US")
    _sign_in_to_live(page, "admin", admin_password)
    panel = page.get_by_test_id("ptz-panel")

    page.locator(f"[data-testid=live-point][data-id='{fixed}']").click()
    expect(page.get_by_test_id("live-cell").first).to_have_attribute("data-channel", fixed)
    expect(panel).to_be_hidden()

    page.locator(f"[data-testid=live-point][data-id='{dome}']").click()
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-channel", dome)

    right = page.get_by_test_id("ptz-right")
    box = right.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(right).to_have_class("btn btn-small ptz-btn active")
    page.wait_for_timeout(400)
    page.mouse.up()
    expect(right).not_to_have_class("btn btn-small ptz-btn active")
    expect(page.get_by_test_id("ptz-status")).to_contain_text("A50F0100000000B5")  # the stop

    move, stop = _ptz_records(admin_api, 2)
    assert (move["detail"]["action"], move["detail"]["pan"], move["detail"]["tilt"]) == (
        "move", 1.0, 0.0,
    )  # fmt: skip
    assert stop["detail"]["action"] == "stop"
    for record in (move, stop):
        assert record["outcome"] == "ok"
        assert record["target"] == dome
        assert record["actor"] == "admin"
        assert record["detail"]["result"] == "OK"  # the simulated dome's own Response

    page.get_by_test_id("ptz-preset").fill("5")
    page.get_by_test_id("ptz-preset-set").click()
    expect(page.get_by_test_id("ptz-status")).to_contain_text("A50F0181000500")
    (preset,) = _ptz_records(admin_api, 3)[2:]
    assert (preset["detail"]["op"], preset["detail"]["preset"]) == ("set", 5)
    assert preset["detail"]["result"] == "OK"


def test_ptz_controls_are_hidden_from_viewers(
    make_page: MakePage, admin_api: httpx.Client, points: dict[int, str]
) -> None:
    created = admin_api.post(
        "/users",
        json={"username": VIEWER[0], "password": VIEWER[1], "role": "viewer",
              "scope": {"all": True}},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    page = make_page("zh-CN")
    _sign_in_to_live(page, *VIEWER)
    page.locator(f"[data-testid=live-point][data-id='{points[1]}']").click()
    expect(page.get_by_test_id("live-cell").first).to_have_attribute("data-channel", points[1])
    expect(page.get_by_test_id("ptz-panel")).to_be_hidden()
