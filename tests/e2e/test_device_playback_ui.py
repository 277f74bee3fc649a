"""Recordings kept on a device, in a real Chromium against a real `vigil serve` and a simulated
camera (`vigil sim`, which answers RecordInfo and plays its history at the INFO Scale): the
device recordings page lists what the device recorded, plays an item through Media Source
Extensions, and at speed 2 goes through the recording twice as fast while the element's media
time keeps running at 1 s per second (the server rewrites the times; the buffer stays small).
A seek to the item's last second ends with "end of the recording". "Download" copies a minute
of a recording into an MP4 on the platform: the downloads panel follows the job's progress to
"done" (and stops asking once nothing runs), saves the file and removes it."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_pages import PLAY_TIMEOUT_MS, expect_playing, sign_in
from tests.e2e.conftest import (
    Server,
    add_regions,
    online_channels,
    run_signalling_server,
    simulated_devices,
)

pytestmark = pytest.mark.e2e

MakePage = Callable[[str], Page]
HOUR_S = 3600
FPS = 25  # the simulated camera's frame rate

# The playhead, frames decoded so far (shown or dropped), the buffer ahead and the page's
# estimate of the recording time at the playhead.
PROBE = """() => {
  const video = document.querySelector("[data-testid=device-playback-video]");
  const buffered = video.buffered;
  const end = buffered.length ? buffered.end(buffered.length - 1) : video.currentTime;
  const clock = document.querySelector("[data-testid=device-playback-position]");
  const position = clock.dataset.positionS;
  return { time: video.currentTime, frames: video.getVideoPlaybackQuality().totalVideoFrames,
           ahead: end - video.currentTime, position: Number(position), paused: video.paused,
           error: video.error ? video.error.message : null };
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sip_port: int) -> Iterator[Server]:
    with run_signalling_server(tmp_path_factory, sip_port) as running:
        yield running


@pytest.fixture(scope="module")
def simulator(
    server: Server, sip_port: int, admin_api: httpx.Client
) -> Iterator[subprocess.Popen[bytes]]:
    """One simulated camera with a week of hourly recordings, registered and catalogued."""
    add_regions(admin_api)
    with simulated_devices(
        server,
        sip_port,
        ["--devices", "1", "--channels", "1", "--video-size", "320x180"],
        lambda: bool(online_channels(admin_api)),
        "the simulated camera",
    ) as process:
        yield process


def _local_input(unix_s: int) -> str:
    """The value of a datetime-local input for ``unix_s`` (the browser shares our zone)."""
    return time.strftime("%Y-%m-%dT%H:%M", time.localtime(unix_s))


def _measure(page: Page, seconds: float) -> dict[str, float]:
    """Playhead, decoded frames and recording position advanced over ``seconds`` of wall time."""
    first: dict[str, Any] = page.evaluate(PROBE)
    started = time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    last: dict[str, Any] = page.evaluate(PROBE)
    wall_s = time.monotonic() - started
    assert last["error"] is None, last
    assert not last["paused"], last
    return {
        "media_per_s": (last["time"] - first["time"]) / wall_s,
        "recording_per_s": (last["frames"] - first["frames"]) / FPS / wall_s,
        "position_per_s": (last["position"] - first["position"]) / wall_s,
        "ahead_s": last["ahead"],
    }


def test_device_recordings_are_listed_and_played_at_speed(
    make_page: MakePage,
    admin_password: str,
    simulator: subprocess.Popen[bytes],
    server: Server,
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    page.get_by_test_id("nav-playback").click()
    page.get_by_test_id("playback-mode-device").click()
    expect(page).to_have_url(re.compile(r"#/playback/device"))

    point = page.locator("[data-testid=device-playback-point][data-online=true]").first
    channel_id = point.get_attribute("data-id") or ""
    point.click()
    now_s = int(time.time())
    page.get_by_test_id("device-records-from").fill(_local_input(now_s - 3 * HOUR_S))
    page.get_by_test_id("device-records-to").fill(_local_input(now_s))
    page.get_by_test_id("device-records-query").click()

    # the simulator records in hours: the last two whole hours and part of the one before
    rows = page.get_by_test_id("device-record-row")
    expect(rows).to_have_count(3)
    expect(page.get_by_test_id("device-records-span")).to_have_count(3)
    expect(page.get_by_test_id("device-records-status")).to_contain_text("3 recordings")
    download = rows.first.locator("[data-action=device-download]")
    expect(download).to_have_count(1)
    expect(download).to_be_visible()

    last = rows.last
    end_s = int(last.get_attribute("data-end") or 0)
    assert now_s - HOUR_S < end_s <= now_s + 1  # the last whole hour
    last.get_by_test_id("device-record-play").click()
    cell = page.get_by_test_id("device-playback-cell")
    expect(cell).to_have_attribute("data-channel", channel_id)
    expect_playing(page, cell, "device-playback-message", server, "the device recording")
    page.wait_for_function(
        "document.querySelector('[data-testid=device-playback-video]').currentTime > 0.5",
        timeout=PLAY_TIMEOUT_MS,
    )

    at_one = _measure(page, 3.0)
    assert at_one["media_per_s"] > 0.7, at_one
    assert at_one["recording_per_s"] > 0.6, at_one

    page.get_by_test_id("device-playback-speed-2").click()
    expect(page.get_by_test_id("device-playback-speed-2")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(1000)  # the frames sent before the change have played
    at_two = _measure(page, 4.0)
    # twice as much recording per second, the media clock still at 1 s/s, no growing buffer
    assert at_two["recording_per_s"] > 1.4 * at_one["recording_per_s"], (at_one, at_two)
    assert at_two["position_per_s"] > 1.4 * at_one["position_per_s"], (at_one, at_two)
    assert at_two["media_per_s"] > 0.7, at_two
    assert at_two["ahead_s"] < 2.0, at_two

    # pause holds the picture; resume goes on
    page.get_by_test_id("device-playback-toggle").click()
    expect(cell).to_have_attribute("data-state", "paused")
    page.get_by_test_id("device-playback-toggle").click()
    expect(cell).to_have_attribute("data-state", "playing")

    # a seek to the last seconds plays them and ends with the end of the recording
    page.get_by_test_id("device-playback-seek").evaluate(
        "(el) => { el.value = el.max - 2; el.dispatchEvent(new Event('change')); }"
    )
    expect(cell).to_have_attribute("data-state", "ended", timeout=PLAY_TIMEOUT_MS)
    expect(page.get_by_test_id("device-playback-message")).to_have_text("End of the recording.")


# The progress, state and percentage of every download row the panel shows.
DOWNLOAD_ROWS = """() => [...document.querySelectorAll("[data-testid=device-download-row]")]
  .map((row) => ({
  id: row.dataset.id, state: row.dataset.state, progress: Number(row.dataset.progress),
  bar: row.querySelector("progress") ? Number(row.querySelector("progress").value) : null,
  percent: (row.querySelector("[data-testid=device-download-percent]") || {}).textContent || "",
}))"""
DOWNLOAD_TIMEOUT_S = 90.0


def test_a_device_recording_is_downloaded_saved_and_removed(
    make_page: MakePage,
    admin_password: str,
    simulator: subprocess.Popen[bytes],
    admin_api: httpx.Client,
    tmp_path: Path,
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    page.get_by_test_id("nav-playback").click()
    page.get_by_test_id("playback-mode-device").click()
    point = page.locator("[data-testid=device-playback-point][data-online=true]").first
    channel_id = point.get_attribute("data-id") or ""
    point.click()
    expect(page.get_by_test_id("device-downloads-none")).to_be_visible()  # nothing yet

    # one minute inside the recording of two hours ago (no simulated gap there)
    start_s = int(time.time()) // HOUR_S * HOUR_S - 2 * HOUR_S + 10 * 60
    page.get_by_test_id("device-records-from").fill(_local_input(start_s))
    page.get_by_test_id("device-records-to").fill(_local_input(start_s + 60))
    page.get_by_test_id("device-records-query").click()
    rows = page.get_by_test_id("device-record-row")
    expect(rows).to_have_count(1)
    assert (
        int(rows.first.get_attribute("data-end") or 0)
        - int(rows.first.get_attribute("data-start") or 0)
        == HOUR_S
    )  # the device lists the whole item ...
    button = rows.first.get_by_test_id("device-record-download")
    expect(button).to_have_attribute("data-start", str(start_s))
    expect(button).to_have_attribute("data-end", str(start_s + 60))  # ... the copy is the minute
    asked: list[str] = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if "/device-downloads" in request.url else None,
    )
    button.click()

    job_row = page.get_by_test_id("device-download-row")
    expect(job_row).to_have_count(1)
    job_id = job_row.get_attribute("data-id") or ""
    job = admin_api.get(f"/device-downloads/{job_id}").json()
    assert (job["channel_id"], job["start_s"], job["end_s"], job["speed"]) == (
        channel_id, start_s, start_s + 60, 4,
    )  # fmt: skip

    # the panel follows the job: a progress bar that fills while it runs, then "done"
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + DOWNLOAD_TIMEOUT_S
    while time.monotonic() < deadline:
        (shown,) = page.evaluate(DOWNLOAD_ROWS)
        seen.append(shown)
        if shown["state"] not in ("queued", "running"):
            break
        page.wait_for_timeout(250)
    assert shown["state"] == "done", (seen, admin_api.get(f"/device-downloads/{job_id}").json())
    running = [s for s in seen if s["state"] == "running"]
    assert any(
        0 < s["bar"] < 100 and s["percent"].strip() == f"{int(s['bar'])}%" for s in running
    ), seen
    bars = [s["bar"] for s in running]
    assert bars == sorted(bars), bars
    expect(job_row.get_by_test_id("device-download-state")).to_have_text("Done")
    expect(job_row.get_by_test_id("device-download-progress")).to_have_count(0)

    # nothing runs any more: the panel stops asking
    page.wait_for_timeout(1000)
    before = len(asked)
    page.wait_for_timeout(4000)
    assert len(asked) == before, asked[before:]

    # "Save" fetches the MP4 with the bearer token and hands it over as a file
    with page.expect_download() as saving:
        job_row.get_by_test_id("device-download-save").click()
    saved = saving.value
    assert saved.suggested_filename == f"{channel_id}-{start_s}-{start_s + 60}.mp4"
    target = tmp_path / saved.suggested_filename
    saved.save_as(target)
    data = target.read_bytes()
    done = admin_api.get(f"/device-downloads/{job_id}").json()
    assert len(data) == done["size_bytes"] > 0
    assert data[4:8] == b"ftyp"
    assert 55 * FPS <= done["frames"] <= 65 * FPS

    # removing a finished download asks first; then the job and its file are gone
    job_row.get_by_test_id("device-download-remove").click()
    page.get_by_test_id("device-download-remove-dialog-submit").click()
    expect(page.get_by_test_id("device-download-row")).to_have_count(0)
    expect(page.get_by_test_id("device-downloads-none")).to_be_visible()
    assert admin_api.get(f"/device-downloads/{job_id}").status_code == 404
