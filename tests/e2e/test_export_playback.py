"""Headless Chromium plays an export through MSE, across segment, run and parameter changes.

The whole MP4 is appended to one SourceBuffer (what a browser player of exports does); the
buffered range must be one piece (the gap between runs is closed up) and playback must run
from 0 past every boundary, with the picture size changing where the recording's did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route

from tests.conftest import run_blocking
from tests.recording.export_recordings import (
    CHANNEL,
    T0,
    export_service,
    record_two_runs,
    wait_finished,
)
from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.recording.index import segments_between, video_params_by_id

pytestmark = pytest.mark.e2e

ORIGIN = "http://export.test"
PLAYER = """<!doctype html><meta charset="utf-8"><video id="v" muted playsinline></video>
<script>
window.seen = {widths: [], stalls: 0, errors: []};
async function start(mime) {
  const video = document.getElementById("v");
  video.addEventListener("waiting", () => { window.seen.stalls += 1; });
  video.addEventListener("error", () => window.seen.errors.push(String(video.error?.message)));
  video.addEventListener("resize", () => window.seen.widths.push(video.videoWidth));
  const source = new MediaSource();
  video.src = URL.createObjectURL(source);
  await new Promise((ok) => source.addEventListener("sourceopen", ok, {once: true}));
  const buffer = source.addSourceBuffer(mime);
  const data = await (await fetch("/export.mp4")).arrayBuffer();
  await new Promise((ok, fail) => {
    buffer.addEventListener("updateend", ok, {once: true});
    buffer.addEventListener("error", () => fail(new Error("append failed")), {once: true});
    buffer.appendBuffer(data);
  });
  const ranges = [];
  for (let i = 0; i < buffer.buffered.length; i++) {
    ranges.push([buffer.buffered.start(i), buffer.buffered.end(i)]);
  }
  source.endOfStream();
  await video.play();
  return ranges;
}
</script>"""


@dataclass(frozen=True)
class Export:
    mp4: Path
    mime: str
    duration_s: float
    boundaries_s: tuple[float, ...]  # where segment files (and the run) change in the file


async def _make_export(tmp: Path) -> Export:
    url = f"sqlite+aiosqlite:///{tmp / 'vigil.db'}"
    await upgrade(url)
    engine = create_engine(url)
    try:
        await record_two_runs(engine, tmp / "pool")
        service = export_service(engine, tmp / "data", tmp / "pool")
        runner = asyncio.create_task(service.run())
        start, end = T0 + timedelta(seconds=3), T0 + timedelta(seconds=12)
        try:
            job = await service.submit(CHANNEL, start, end, requested_by="e2e", reason="mse")
            assert (await wait_finished(service, job.id)).state == "done"
        finally:
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner
        rows = await segments_between(engine, CHANNEL, start, end)
        params = await video_params_by_id(engine, rows[0].params_id)
        assert params is not None
        return Export(service.mp4_path(job.id), params.mime_type, 5.0, (1.0, 3.0))
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Export:
    return run_blocking(_make_export(tmp_path_factory.mktemp("export")))


@pytest.fixture
def player(browser: Browser, export: Export) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def serve(route: Route) -> None:
        if route.request.url.endswith("/export.mp4"):
            route.fulfill(path=str(export.mp4), content_type="video/mp4")
        else:
            route.fulfill(body=PLAYER, content_type="text/html")

    page.route(f"{ORIGIN}/**", serve)
    page.goto(f"{ORIGIN}/player.html")
    yield page
    context.close()
    assert not errors, errors


def test_mse_plays_the_export_across_every_boundary(player: Page, export: Export) -> None:
    ranges = player.evaluate("(mime) => start(mime)", export.mime)
    assert len(ranges) == 1, ranges  # one continuous buffered range: no hole to stall at
    assert ranges[0][0] == pytest.approx(0.0, abs=0.05)
    assert ranges[0][1] == pytest.approx(export.duration_s, abs=0.05)
    last_boundary = export.boundaries_s[-1]
    player.wait_for_function(
        f"document.getElementById('v').currentTime > {last_boundary + 1.0}", timeout=20_000
    )
    state = player.evaluate(
        "() => ({t: document.getElementById('v').currentTime, w: document.getElementById('v')"
        ".videoWidth, seen: window.seen})"
    )
    assert state["t"] > last_boundary + 1.0
    assert state["w"] == 352  # decoding the second run's picture size after the change
    assert state["seen"]["widths"][0] == 320
    assert 352 in state["seen"]["widths"]
    assert state["seen"]["errors"] == []
    player.wait_for_function("document.getElementById('v').ended", timeout=10_000)
