"""The live view of an H.265 camera in a real Chromium (whose Media Source Extensions play no
H.265): `vigil serve` transcodes the simulated camera's H.265 (`vigil sim --video-codec h265`)
to H.264 and the page presents frames with an advancing playhead."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Server, run_server
from tests.e2e.test_live_ui import (
    FRAMES_WANTED,
    KEEPALIVE_S,
    PLAY_TIMEOUT_MS,
    REGIONS,
    REGISTER_TIMEOUT_S,
    SIM_PASSWORD,
    WATCH_FRAMES,
)

pytestmark = pytest.mark.e2e

MakePage = Callable[[str], Page]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sip_port: int) -> Iterator[Server]:
    with run_server(
        tmp_path_factory,
        {
            "VIGIL_SIP__HOST": "127.0.0.1",
            "VIGIL_SIP__PORT": str(sip_port),
            "VIGIL_SIP__KEEPALIVE_INTERVAL_S": str(KEEPALIVE_S),
        },
    ) as running:
        yield running


@pytest.fixture(scope="module")
def h265_camera(
    server: Server, sip_port: int, admin_api: httpx.Client
) -> Iterator[subprocess.Popen[bytes]]:
    """One simulated H.265 camera, registered and with its catalog read."""
    for code, name in REGIONS:
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201), answer.text
    command = [
        *[sys.executable, "-m", "vigil", "sim"],
        *["--platform", f"127.0.0.1:{sip_port}"],
        *["--devices", "1", "--channels", "1"],
        *["--password", SIM_PASSWORD, "--region", "340202"],
        *["--keepalive-s", str(KEEPALIVE_S), "--video-codec", "h265"],
    ]
    log_path = Path(server.data_dir) / "sim.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"vigil sim exited with {process.returncode}:\n{log_path.read_text()}")
            answer = admin_api.get("/channels", params={"online": "true"})
            assert answer.status_code == 200, answer.text
            if answer.json()["items"]:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"the camera did not register:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def test_live_view_plays_an_h265_camera(
    make_page: MakePage,
    admin_password: str,
    h265_camera: subprocess.Popen[bytes],
    server: Server,
    admin_api: httpx.Client,
) -> None:
    page = make_page("en-US")
    page.goto("/")
    page.get_by_test_id("login-username").fill("admin")
    page.get_by_test_id("login-password").fill(admin_password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("current-user")).to_be_visible()
    page.get_by_test_id("nav-live").click()
    expect(page).to_have_url(re.compile(r"#/live"))
    page.get_by_test_id("live-grid-1").click()
    point = page.locator("[data-testid=live-point][data-online=true]").first
    expect(point).to_be_visible()
    channel_id = point.get_attribute("data-id")
    point.click()

    cell = page.get_by_test_id("live-cell").first
    expect(cell).to_have_attribute("data-channel", channel_id or "")
    try:
        expect(cell).to_have_attribute("data-state", "playing", timeout=PLAY_TIMEOUT_MS)
    except AssertionError:
        message = page.get_by_test_id("live-message").first.inner_text()
        log = server.log_path.read_text(errors="replace")[-3000:]
        raise AssertionError(f"the point did not play: {message}\n{log}") from None

    result = page.evaluate(WATCH_FRAMES, {"frames": FRAMES_WANTED, "timeoutMs": PLAY_TIMEOUT_MS})
    assert result["error"] is None, result
    assert result["presented"] >= FRAMES_WANTED, result
    assert result["endTime"] > result["startTime"], result
    assert result["total"] > 0, result

    # the platform really received H.265: the camera's keyframes are HEVC
    plays = admin_api.get(f"/channels/{channel_id}/play-sessions")
    assert plays.status_code == 200, plays.text
    (play,) = plays.json()["items"]
    assert "first keyframe (h265" in " ".join(e["detail"] for e in play["timeline"]), play
    cell.get_by_test_id("live-close").click()
    expect(cell).to_have_attribute("data-state", "empty")
