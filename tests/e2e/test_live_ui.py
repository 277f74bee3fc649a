"""The live view in a real Chromium against a real `vigil serve` fed by a simulated camera
(`vigil sim`): a point clicked in the live page plays through Media Source Extensions, frames
keep being presented, the playhead advances and (almost) no frame is dropped.
"""

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

pytestmark = pytest.mark.e2e

REGIONS = (("3402", "芜湖市"), ("340202", "镜湖区"))
SIM_PASSWORD = "12345678"
KEEPALIVE_S = 1
REGISTER_TIMEOUT_S = 30.0
FRAMES_WANTED = 25
PLAY_TIMEOUT_MS = 20_000
MakePage = Callable[[str], Page]

# Counts presented frames with requestVideoFrameCallback for a while; reports the playhead
# and the playback quality at the start and the end.
WATCH_FRAMES = """async ({ frames, timeoutMs }) => {
  const video = document.querySelector("[data-testid=live-cell] video");
  const deadline = Date.now() + timeoutMs;
  while (video.readyState < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const startTime = video.currentTime;
  const presented = await new Promise((resolve) => {
    let count = 0;
    const timer = setTimeout(() => resolve(count), Math.max(0, deadline - Date.now()));
    const onFrame = () => {
      count += 1;
      if (count >= frames) {
        clearTimeout(timer);
        resolve(count);
      } else video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  });
  const quality = video.getVideoPlaybackQuality();
  return {
    presented,
    startTime,
    endTime: video.currentTime,
    dropped: quality.droppedVideoFrames,
    total: quality.totalVideoFrames,
    error: video.error ? video.error.message : null,
  };
}"""


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
def simulator(
    server: Server, sip_port: int, admin_api: httpx.Client
) -> Iterator[subprocess.Popen[bytes]]:
    """One simulated camera, registered and with its catalog read."""
    for code, name in REGIONS:
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201), answer.text
    command = [
        *[sys.executable, "-m", "vigil", "sim"],
        *["--platform", f"127.0.0.1:{sip_port}"],
        *["--devices", "1", "--channels", "1"],
        *["--password", SIM_PASSWORD, "--region", "340202"],
        *["--keepalive-s", str(KEEPALIVE_S)],
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
                log = log_path.read_text()[-3000:]
                pytest.fail(f"the simulated camera did not register:\n{log}")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)


def test_live_view_plays_a_simulated_camera(
    make_page: MakePage,
    admin_password: str,
    simulator: subprocess.Popen[bytes],
    server: Server,
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
    expect(page.get_by_test_id("live-cell")).to_have_count(1)

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
    assert result["dropped"] / result["total"] < 0.01, result

    # the stats overlay reports the stream
    cell.get_by_test_id("live-stats-toggle").click()
    expect(cell.get_by_test_id("live-stats")).to_contain_text("fps")

    cell.get_by_test_id("live-close").click()
    expect(cell).to_have_attribute("data-state", "empty")
