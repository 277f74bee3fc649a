"""Steps and probes shared by the browser tests: signing in, playing a point in the live view
and counting the frames its <video> presents."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import Server

FRAMES_WANTED = 25
PLAY_TIMEOUT_MS = 20_000

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


def sign_in(page: Page, username: str, password: str, start: str = "/") -> None:
    """Opens ``start`` (which shows the login form) and signs in."""
    page.goto(start)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("current-user")).to_be_visible()


def open_live_grid_of_one(page: Page) -> None:
    """From a signed-in page: the live view with a grid of one cell."""
    page.get_by_test_id("nav-live").click()
    page.get_by_test_id("live-grid-1").click()


def play_first_online_point(page: Page, server: Server) -> tuple[Locator, str]:
    """In the live view: clicks the first online point and waits until its cell plays;
    (the cell, the channel ID). A cell that does not play fails with its message and the
    end of the server's log."""
    point = page.locator("[data-testid=live-point][data-online=true]").first
    expect(point).to_be_visible()
    channel_id = point.get_attribute("data-id") or ""
    point.click()

    cell = page.get_by_test_id("live-cell").first
    expect(cell).to_have_attribute("data-channel", channel_id)
    expect_playing(page, cell, "live-message", server, "the point")
    return cell, channel_id


def expect_playing(
    page: Page, cell: Locator, message_testid: str, server: Server, what: str
) -> None:
    """Waits up to PLAY_TIMEOUT_MS for ``cell`` (a live or playback cell) to play; else fails
    with "``what`` did not play", the first message (test id ``message_testid``) on the page
    and the end of the server's log."""
    try:
        expect(cell).to_have_attribute("data-state", "playing", timeout=PLAY_TIMEOUT_MS)
    except AssertionError:
        message = page.get_by_test_id(message_testid).first.inner_text()
        log = server.log_path.read_text(errors="replace")[-3000:]
        raise AssertionError(f"{what} did not play: {message}\n{log}") from None


def watch_live_frames(page: Page) -> dict[str, Any]:
    """WATCH_FRAMES on the first live cell: up to FRAMES_WANTED frames within PLAY_TIMEOUT_MS."""
    result: dict[str, Any] = page.evaluate(
        WATCH_FRAMES, {"frames": FRAMES_WANTED, "timeoutMs": PLAY_TIMEOUT_MS}
    )
    return result
