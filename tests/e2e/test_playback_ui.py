"""Recorded playback in a real Chromium against a real `vigil serve`: a recorded range that
crosses segment boundaries plays through Media Source Extensions with frames presented and
the media time advancing without a jump; the timeline bar shows the gap between two runs;
pause holds the picture; a click on the bar seeks past the gap."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import run_blocking
from tests.e2e.browser_pages import PLAY_TIMEOUT_MS, expect_playing, sign_in
from tests.e2e.conftest import Server
from tests.recording.playback_fixtures import (
    CHANNEL,
    RUN2_START,
    T0,
    record_clip,
    record_two_runs,
)
from vigil.db.engine import create_engine
from vigil.recording.playback_session import iso

pytestmark = pytest.mark.e2e

MakePage = Callable[[str], Page]
OTHER = "34020200001310000002"  # recorded without a gap: 12 s from T0
LEDGER = (
    "id,name,region_code,org_code,org_name,point_class,network,resolution\n"
    f"{CHANNEL},镜湖 路口 1,340202,JH-PSB,镜湖区公安分局,1,police_video,320x180\n"
    f"{OTHER},镜湖 路口 2,340202,JH-PSB,镜湖区公安分局,1,police_video,320x180\n"
).encode()

# Frames presented for a while (requestVideoFrameCallback): their media times, the playhead.
WATCH_FRAMES = """async ({ seconds }) => {
  const video = document.querySelector("[data-testid=playback-cell] video");
  const deadline = Date.now() + 15000;
  while (video.readyState < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const media = [];
  await new Promise((resolve) => {
    const stopAt = Date.now() + seconds * 1000;
    const onFrame = (_now, meta) => {
      media.push(meta.mediaTime);
      if (Date.now() < stopAt) video.requestVideoFrameCallback(onFrame);
      else resolve();
    };
    video.requestVideoFrameCallback(onFrame);
    setTimeout(resolve, seconds * 1000 + 3000);
  });
  const quality = video.getVideoPlaybackQuality();
  return { media, currentTime: video.currentTime, dropped: quality.droppedVideoFrames,
           total: quality.totalVideoFrames, error: video.error ? video.error.message : null };
}"""


async def _record(server: Server) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{server.data_dir / 'vigil.db'}")
    try:
        pool = server.data_dir / "recordings"
        await record_two_runs(engine, pool)
        await record_clip(engine, pool, OTHER, T0, 300)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def recorded(server: Server, admin_api: httpx.Client) -> None:
    for code, name in (("3402", "芜湖市"), ("340202", "镜湖区")):
        answer = admin_api.post("/regions", json={"code": code, "name": name})
        assert answer.status_code in (200, 201), answer.text
    answer = admin_api.post("/ledger/import", files={"file": ("l.csv", LEDGER, "text/csv")})
    assert answer.status_code == 200, answer.text
    run_blocking(_record(server))


def test_playback_crosses_segments_and_shows_the_gap(
    make_page: MakePage, admin_password: str, recorded: None, server: Server
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    expect(page.get_by_test_id("nav-playback")).to_be_visible()
    page.goto(f"/#/playback?channels={CHANNEL}&at={iso(T0)}")
    cell = page.get_by_test_id("playback-cell").first
    expect(cell).to_have_attribute("data-channel", CHANNEL)
    expect_playing(page, cell, "playback-message", server, "the recording")

    # the timeline bar shows the gap between the two runs
    gap = page.locator(f'[data-testid=timeline-gap][data-start="{iso(T0 + timedelta(seconds=6))}"]')
    expect(gap).to_have_count(1)
    expect(gap).to_have_attribute("data-end", iso(RUN2_START))
    expect(page.get_by_test_id("timeline-span")).to_have_count(2)

    # 5.5 s of playback from 0 crosses the segment boundaries at 2 s and 4 s
    result: dict[str, Any] = page.evaluate(WATCH_FRAMES, {"seconds": 5.5})
    media: list[float] = result["media"]
    assert result["error"] is None, result
    assert len(media) >= 100, result
    steps = [b - a for a, b in itertools.pairwise(media)]
    assert all(step > 0 for step in steps), steps
    # no jump across the boundaries (a rare missed callback under load skips a few frames)
    assert max(steps) < 0.5, steps
    assert media[0] < 1.0 < 4.2 < media[-1], media
    assert result["dropped"] / max(result["total"], 1) < 0.05, result
    wall = page.get_by_test_id("playback-clock").get_attribute("data-wall") or ""
    assert iso(T0 + timedelta(seconds=4)) <= wall <= iso(T0 + timedelta(seconds=6)), wall

    # pause holds the playhead; play continues
    page.get_by_test_id("playback-toggle").click()
    expect(cell).to_have_attribute("data-state", "paused")
    held = page.evaluate("document.querySelector('[data-testid=playback-cell] video').currentTime")
    page.wait_for_timeout(1000)
    still = page.evaluate("document.querySelector('[data-testid=playback-cell] video').currentTime")
    assert still == held
    page.get_by_test_id("playback-toggle").click()
    expect(cell).to_have_attribute("data-state", "playing")

    # a click on the zoomed bar past the gap plays the second run
    page.get_by_test_id("timeline-zoom-10m").click()
    bar = page.get_by_test_id("timeline-bar")
    box = bar.bounding_box()
    assert box is not None
    gap_box = gap.bounding_box()
    assert gap_box is not None
    page.mouse.click(gap_box["x"] + gap_box["width"] + 0.15 * 2 * box["width"] / 600, box["y"] + 5)
    expect(page.get_by_test_id("playback-clock")).to_have_attribute(
        "data-wall", re.compile(r"T08:00:1[0-2]"), timeout=PLAY_TIMEOUT_MS
    )


CELL_CLOCKS = """() => [...document.querySelectorAll("[data-testid=playback-cell]")]
  .filter((c) => c.dataset.channel)
  .map((c) => ({ channel: c.dataset.channel, held: c.dataset.held,
                 clock: c.querySelector("[data-testid=playback-cell-clock]").textContent }))"""


def _seconds(clock: str) -> float:
    hours, minutes, seconds = clock.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_two_channels_play_in_step_across_a_gap(
    make_page: MakePage, admin_password: str, recorded: None
) -> None:
    """The channel that skips its gap waits until the other reaches the same wall time."""
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    page.goto(f"/#/playback?channels={CHANNEL},{OTHER}&at={iso(T0 + timedelta(seconds=4))}")
    cells = page.locator("[data-testid=playback-cell][data-channel]")
    expect(cells).to_have_count(2)
    for index in range(2):
        expect(cells.nth(index)).to_have_attribute("data-state", re.compile("playing|paused"))
    # the first channel jumps its gap (6 s → 10 s) and is held while the other plays 6 → 10 s
    expect(
        page.locator(f'[data-testid=playback-cell][data-channel="{CHANNEL}"]')
    ).to_have_attribute("data-held", "true", timeout=PLAY_TIMEOUT_MS)
    # once the other catches up, both run within a second of each other
    expect(
        page.locator(f'[data-testid=playback-cell][data-channel="{CHANNEL}"]')
    ).to_have_attribute("data-held", "false", timeout=PLAY_TIMEOUT_MS)
    clocks = page.evaluate(CELL_CLOCKS)
    first, other = (_seconds(c["clock"]) for c in clocks)
    assert abs(first - other) <= 1.2, clocks
    local_gap_end = page.evaluate(
        "(at) => new Date(at).toTimeString().slice(0, 8)", iso(RUN2_START - timedelta(seconds=1))
    )
    assert _seconds(local_gap_end) <= min(first, other), clocks


SPEED_RUN = """async ({ seconds }) => {
  const video = document.querySelector("[data-testid=playback-cell] video");
  const frames = [];
  const from = video.currentTime;
  const started = performance.now();
  await new Promise((resolve) => {
    const onFrame = (_now, meta) => {
      frames.push(meta.mediaTime);
      if (performance.now() - started < seconds * 1000) video.requestVideoFrameCallback(onFrame);
      else resolve();
    };
    video.requestVideoFrameCallback(onFrame);
    setTimeout(resolve, seconds * 1000 + 2000);
  });
  return { from, to: video.currentTime, rate: video.playbackRate, frames,
           realS: (performance.now() - started) / 1000 };
}"""


def test_speed_four_plays_keyframes_four_times_faster(
    make_page: MakePage, admin_password: str, recorded: None
) -> None:
    page = make_page("en-US")
    sign_in(page, "admin", admin_password)
    page.goto(f"/#/playback?channels={OTHER}&at={iso(T0)}")
    cell = page.get_by_test_id("playback-cell").first
    expect(cell).to_have_attribute("data-state", "playing", timeout=PLAY_TIMEOUT_MS)
    page.get_by_test_id("playback-speed-4").click()
    expect(page.get_by_test_id("playback-speed-4")).to_have_attribute("aria-pressed", "true")
    page.wait_for_timeout(500)
    result: dict[str, Any] = page.evaluate(SPEED_RUN, {"seconds": 1.5})
    assert result["rate"] == 4, result
    advanced = result["to"] - result["from"]
    assert advanced >= 3.0 * result["realS"], result  # ~4 s of recording per second
    # keyframes only (one a second of recording): far fewer frames than 25 per media second
    assert 2 <= len(result["frames"]) <= 2 * advanced + 3, result
