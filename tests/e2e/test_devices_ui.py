"""The device pages in a real Chromium against a real `vigil serve` with GB/T 28181
signalling, fed by real simulated devices (`vigil sim`) over SIP on loopback.

Scenario: two simulated NVRs register and are parked as pending; the device list shows them
online; one is approved in the page; its detail lists the channels read from its catalog with
their Chinese names intact, a DeviceInfo query answers, the signalling log shows the REGISTER
and MESSAGE exchanges; then the simulator dies and, without a reload, the device list and the
point list turn the devices and their channels offline from the server's event stream.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.browser_pages import sign_in
from tests.e2e.conftest import Server, add_regions, run_signalling_server, simulated_devices

pytestmark = pytest.mark.e2e

SIM_DEVICES = 2
SIM_CHANNELS = 2
# Device serials 1 and 2 (NVR, type 118); channel serials (device - 1) × 2 + n (type 131).
DEVICE_IDS = ("34020200001180000001", "34020200001180000002")
APPROVED = DEVICE_IDS[1]
APPROVED_CHANNELS = ("34020200001310000003", "34020200001310000004")
OFFLINE_TIMEOUT_MS = 12_000  # keepalive timeout (2 × 1 s) plus detection and the push
MakePage = Callable[[str], Page]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sip_port: int) -> Iterator[Server]:
    """This module's platform: signalling on a known port, keepalives every second."""
    with run_signalling_server(
        tmp_path_factory, sip_port, {"VIGIL_SIP__KEEPALIVE_TIMEOUT_COUNT": "2"}
    ) as running:
        yield running


@pytest.fixture(scope="module")
def regions(admin_api: httpx.Client) -> None:
    """The simulator's region, so the channels of its catalog find a place in the ledger."""
    add_regions(admin_api)


def _devices_online(admin_api: httpx.Client) -> set[str]:
    answer = admin_api.get("/devices", params={"online": "true"})
    assert answer.status_code == 200, answer.text
    return {d["id"] for d in answer.json()["items"]}


def _channels_of(admin_api: httpx.Client, device_id: str) -> list[dict[str, object]]:
    answer = admin_api.get("/channels", params={"device": device_id})
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


@pytest.fixture
def simulator(
    server: Server, sip_port: int, regions: None, admin_api: httpx.Client
) -> Iterator[subprocess.Popen[bytes]]:
    """`vigil sim` with two NVRs of two channels each, registered and with their catalogs
    read; killed at the end if the test has not killed it already."""

    def ready() -> bool:
        return _devices_online(admin_api) == set(DEVICE_IDS) and all(
            len(_channels_of(admin_api, d)) == SIM_CHANNELS for d in DEVICE_IDS
        )

    with simulated_devices(
        server,
        sip_port,
        ["--devices", str(SIM_DEVICES), "--channels", str(SIM_CHANNELS)],
        ready,
        "the simulated devices (with their catalogs)",
    ) as process:
        yield process


def device_row(page: Page, device_id: str) -> Locator:
    return page.locator(f"[data-testid=device-row][data-id='{device_id}']")


def test_devices_pages_follow_real_devices(
    make_page: MakePage,
    admin_api: httpx.Client,
    admin_password: str,
    simulator: subprocess.Popen[bytes],
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    page.get_by_test_id("nav-devices").click()
    expect(page).to_have_url(re.compile(r"#/devices$"))

    # both NVRs registered: online, admitted as pending
    for device_id in DEVICE_IDS:
        row = device_row(page, device_id)
        expect(row).to_have_attribute("data-online", "true")
        expect(row.get_by_test_id("online-badge")).to_have_attribute("data-online", "true")
        expect(row.get_by_test_id("device-status")).to_have_attribute("data-status", "pending")
        expect(row).to_contain_text("Vigil")
        expect(row).to_contain_text("UDP")
    expect(page.get_by_test_id("devices-count")).to_have_text("2 devices")

    page.get_by_test_id("device-filter-status").select_option("pending")
    expect(page.get_by_test_id("device-row")).to_have_count(2)
    page.get_by_test_id("device-filter-online").select_option("false")
    expect(page.get_by_test_id("devices-empty")).to_be_visible()
    page.get_by_test_id("device-filter-clear").click()
    expect(page.get_by_test_id("device-row")).to_have_count(2)

    # approve one in its detail page
    device_row(page, APPROVED).get_by_test_id("device-link").click()
    expect(page).to_have_url(re.compile(rf"#/devices/{APPROVED}$"))
    detail = page.get_by_test_id("device-detail")
    expect(detail.get_by_test_id("device-online").get_by_test_id("online-badge")).to_have_attribute(
        "data-online", "true"
    )
    expect(page.get_by_test_id("device-state")).to_have_attribute("data-online", "true")
    page.get_by_test_id("device-approve").click()
    head_status = page.locator(".toolbar [data-testid=device-status]")
    expect(head_status).to_have_attribute("data-status", "active")
    expect(page.get_by_test_id("device-approve")).to_have_count(0)
    expect(page.get_by_test_id("device-disable")).to_be_visible()
    assert admin_api.get(f"/devices/{APPROVED}").json()["status"] == "active"

    # its channels, from the catalog, with names as the device sent them
    rows = page.get_by_test_id("device-channel-row")
    expect(rows).to_have_count(SIM_CHANNELS)
    ids = rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert sorted(ids) == sorted(APPROVED_CHANNELS)
    expect(page.get_by_test_id("device-channel-table")).to_contain_text("萳溪桥")
    for channel_row in rows.all():
        expect(channel_row.get_by_test_id("online-badge")).to_have_attribute("data-online", "true")

    # queries answered by the device
    page.get_by_test_id("device-info").click()
    result = page.get_by_test_id("device-result")
    expect(result).to_have_attribute("data-kind", "info")
    expect(result.locator("dd[data-key=manufacturer]")).to_have_text("Vigil")
    expect(result.locator("dd[data-key=channel_count]")).to_have_text(str(SIM_CHANNELS))
    page.get_by_test_id("device-status-query").click()
    expect(result).to_have_attribute("data-kind", "status")
    expect(result.locator("dd[data-key=result]")).to_have_text("OK")
    page.get_by_test_id("device-catalog").click()
    expect(result).to_have_attribute("data-kind", "catalog")
    expect(result.locator("dd[data-key=complete]")).to_have_text("Yes")

    # the signalling log: REGISTER in, MESSAGE both ways; a click shows the whole message
    page.get_by_test_id("siglog-refresh").click()
    first_lines = page.get_by_test_id("siglog-first-line")
    expect(first_lines.first).to_be_visible()
    lines = first_lines.all_inner_texts()
    assert any(line.startswith("REGISTER ") for line in lines), lines
    assert any(line.startswith("MESSAGE ") for line in lines), lines
    register = page.get_by_test_id("siglog-entry").filter(has_text="REGISTER sip:").first
    expect(register).to_have_attribute("data-direction", "in")
    register.get_by_test_id("siglog-line").click()
    expect(register.get_by_test_id("siglog-text")).to_be_visible()
    expect(register.get_by_test_id("siglog-text")).to_contain_text(f"From: <sip:{APPROVED}@")

    # a channel links to its collection point
    page.get_by_test_id("device-channel-link").first.click()
    expect(page).to_have_url(re.compile(r"#/points/3402020000131000000[34]$"))
    expect(page.get_by_test_id("point-form")).to_be_visible()

    # the list shows the approval too
    page.get_by_test_id("nav-devices").click()
    expect(device_row(page, APPROVED).get_by_test_id("device-status")).to_have_attribute(
        "data-status", "active"
    )
    expect(device_row(page, DEVICE_IDS[0]).get_by_test_id("device-status")).to_have_attribute(
        "data-status", "pending"
    )

    # a second window on the point list: every channel of both devices, online
    points = make_page("zh-CN")
    sign_in(points, "admin", admin_password)
    channel_rows = points.locator("[data-testid=channel-row][data-device-id^='3402020000118']")
    expect(channel_rows).to_have_count(SIM_DEVICES * SIM_CHANNELS)
    for tab in (page, points):
        expect(tab.get_by_test_id("live-status")).to_have_attribute("data-state", "open")
        tab.evaluate("() => { window.__sameDocument = true; }")

    # the devices vanish: the event stream turns them and their channels offline in place
    simulator.send_signal(signal.SIGKILL)
    simulator.wait(timeout=10)
    for device_id in DEVICE_IDS:
        expect(device_row(page, device_id)).to_have_attribute(
            "data-online", "false", timeout=OFFLINE_TIMEOUT_MS
        )
        expect(device_row(page, device_id).get_by_test_id("online-badge")).to_have_attribute(
            "data-online", "false"
        )
    expect(points.locator("[data-testid=channel-row][data-online=true]")).to_have_count(
        0, timeout=OFFLINE_TIMEOUT_MS
    )
    expect(channel_rows.first.get_by_test_id("online-badge")).to_have_text("离线")
    for tab in (page, points):
        assert tab.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    # the ledger follows (presence is written behind, within a flush interval)
    deadline = time.monotonic() + 10.0
    while _devices_online(admin_api) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _devices_online(admin_api) == set()
