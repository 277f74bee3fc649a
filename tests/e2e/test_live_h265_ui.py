"""The live view of an H.265 camera in a real Chromium (whose Media Source Extensions play no
H.265): `vigil serve` transcodes the simulated camera's H.265 (`vigil sim --video-codec h265`)
to H.264 and the page presents frames with an advancing playhead."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser_pages import (
    FRAMES_WANTED,
    open_live_grid_of_one,
    play_first_online_point,
    sign_in,
    watch_live_frames,
)
from tests.e2e.conftest import (
    Server,
    add_regions,
    online_channels,
    run_signalling_server,
    simulated_devices,
)

pytestmark = pytest.mark.e2e

MakePage = Callable[[str], Page]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sip_port: int) -> Iterator[Server]:
    with run_signalling_server(tmp_path_factory, sip_port) as running:
        yield running


@pytest.fixture(scope="module")
def h265_camera(
    server: Server, sip_port: int, admin_api: httpx.Client
) -> Iterator[subprocess.Popen[bytes]]:
    """One simulated H.265 camera, registered and with its catalog read."""
    add_regions(admin_api)
    with simulated_devices(
        server,
        sip_port,
        ["--devices", "1", "--channels", "1", "--video-codec", "h265"],
        lambda: bool(online_channels(admin_api)),
        "the camera",
    ) as process:
        yield process


def test_live_view_plays_an_h265_camera(
    make_page: MakePage,
    admin_password: str,
    h265_camera: subprocess.Popen[bytes],
    server: Server,
    admin_api: httpx.Client,
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    open_live_grid_of_one(page)
    expect(page).to_have_url(re.compile(r"#/live"))
    cell, channel_id = play_first_online_point(page, server)

    result = watch_live_frames(page)
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
