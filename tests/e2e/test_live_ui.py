"""The live view in a real Chromium against a real `vigil serve` fed by a simulated camera
(`vigil sim`): a point clicked in the live page plays through Media Source Extensions, frames
keep being presented, the playhead advances and (almost) no frame is dropped.
"""

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
def simulator(
    server: Server, sip_port: int, admin_api: httpx.Client
) -> Iterator[subprocess.Popen[bytes]]:
    """One simulated camera, registered and with its catalog read."""
    add_regions(admin_api)
    with simulated_devices(
        server,
        sip_port,
        ["--devices", "1", "--channels", "1"],
        lambda: bool(online_channels(admin_api)),
        "the simulated camera",
    ) as process:
        yield process


def test_live_view_plays_a_simulated_camera(
    make_page: MakePage,
    admin_password: str,
    simulator: subprocess.Popen[bytes],
    server: Server,
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)

    open_live_grid_of_one(page)
    expect(page).to_have_url(re.compile(r"#/live"))
    expect(page.get_by_test_id("live-cell")).to_have_count(1)

    cell, _channel_id = play_first_online_point(page, server)

    result = watch_live_frames(page)
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
