"""Crash safety of recording: `vigil serve` records 20 simulated channels, is killed with
SIGKILL mid-segment, and restarts. After the start-up reconciliation every row names a whole
file with its hash, every segment file has a row, and each channel lost at most what was
not yet a whole fragment (the GOP in memory and a torn tail).

Loss is counted in frames against what was actually sent, not in wall time: the simulator
numbers every frame (:mod:`vigil.sim.frame_numbers`) and runs in this process, so the test
reads how many frames each channel had sent at the very moment of the kill and the number of
the last frame the index holds. A simulator falling behind real time on a busy machine sent
fewer frames; that is not something the platform lost."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.e2e.conftest import ADMIN_PASSWORD, free_sip_port, serve
from vigil.db.tables import segments
from vigil.recording.index import SegmentRow, segment_from_row
from vigil.recording.segment_writer import parse_segment_path
from vigil.sim.config import SimConfig
from vigil.sim.frame_numbers import read_frame_number
from vigil.sim.pattern import FPS
from vigil.sim.simulator import Simulator

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

DEVICES = 10
CHANNELS_PER_DEVICE = 2
SEGMENT_S = 5
GOP_FRAMES = FPS  # the simulator's clip: a keyframe every 25 frames at 25 fps
# Lost at a crash: the GOP still in memory (< 1 GOP), the fragment being written (1 GOP), and
# frames sent but still on their way through sockets, the demuxer and the recorder's queue.
IN_FLIGHT_FRAMES = FPS // 2
MAX_LOSS_FRAMES = 2 * GOP_FRAMES + IN_FLIGHT_FRAMES

SentFrames = dict[str, tuple[int, int]]  # channel → (SSRC of its play, frames sent)


class _SimulatorThread:
    """The device simulator on its own event loop in a thread of this process, so the test
    can act between two of its sends."""

    def __init__(self, config: SimConfig) -> None:
        self.simulator = Simulator(config)
        self._started = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self._thread.start()
        self._started.wait(timeout=10)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._started.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.simulator.run()

    def kill_counting(self, process: subprocess.Popen[bytes]) -> SentFrames:
        """SIGKILL ``process`` from the simulator's loop and count the frames each running
        sender had sent: no frame goes out between the kill and the count."""

        async def kill() -> SentFrames:
            process.kill()
            sent: SentFrames = {}
            for device in self.simulator.devices.values():
                for sender in device.requests.calls.values():
                    if sender.running:
                        sent[sender.label] = (sender.ssrc, sender.frames_sent)
            return sent

        return asyncio.run_coroutine_threadsafe(kill(), self._loop).result(timeout=10)

    def stop(self) -> None:
        """Cancel the simulator (its devices stop their streams) and wait for the thread."""
        assert self._task is not None
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(timeout=15)


@contextlib.contextmanager
def _serve(
    data_dir: Path, http_port: int, sip_port: int, log_name: str
) -> Iterator[subprocess.Popen[bytes]]:
    with serve(
        data_dir,
        http_port,
        {
            "VIGIL_SIP__HOST": "127.0.0.1",
            "VIGIL_SIP__PORT": str(sip_port),
            "VIGIL_MEDIA__HOST": "127.0.0.1",
            "VIGIL_RECORDING__SEGMENT_DURATION_S": str(SEGMENT_S),
            "VIGIL_RECORDING__MIN_FREE_BYTES": "0",
        },
        log_name,
    ) as process:
        yield process


def _rows(data_dir: Path) -> list[SegmentRow]:
    engine = sa.create_engine(f"sqlite:///{data_dir / 'vigil.db'}")
    try:
        with engine.connect() as conn:
            return [segment_from_row(r) for r in conn.execute(sa.select(segments))]
    finally:
        engine.dispose()


def _segment_files(pool: Path) -> dict[str, int]:
    if not pool.exists():
        return {}
    return {
        str(p.relative_to(pool)): p.stat().st_size
        for p in pool.rglob("*.mp4")
        if parse_segment_path(str(p.relative_to(pool))) is not None
    }


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout_s} s")


def _ffprobe_frames(path: Path) -> int:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames", "-of", "json", str(path)],
        check=True, capture_output=True, timeout=60,
    ).stdout  # fmt: skip
    return int(json.loads(out)["streams"][0]["nb_read_frames"])


def _last_frame(pool: Path, row: SegmentRow) -> tuple[int, int]:
    """(SSRC, number) of the last frame of ``row``'s file, read from its last fragment."""
    last = row.fragments[-1]
    with (pool / row.path).open("rb") as file:
        file.seek(last.offset_bytes)
        number = read_frame_number(file.read(last.size_bytes))
    assert number is not None, f"{row.path}: no numbered frame in its last fragment"
    return number


def test_kill_9_loses_at_most_the_unfinished_fragment(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    data_dir = tmp_path_factory.mktemp("crash")
    pool = data_dir / "recordings"
    http_port, sip_port = free_sip_port(), free_sip_port()
    base = f"http://127.0.0.1:{http_port}/api/v1"
    # The simulator starts first and retries its registration until the platform listens.
    sim = _SimulatorThread(
        SimConfig(
            platform_port=sip_port, devices=DEVICES, channels=CHANNELS_PER_DEVICE,
            video_width=320, video_height=180, keepalive_s=5, retry_s=0.5, frame_numbers=True,
        )
    )  # fmt: skip
    try:
        with _serve(data_dir, http_port, sip_port, "serve-1.log") as server:
            with httpx.Client(base_url=base, timeout=30.0) as api:
                token = api.post(
                    "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
                ).json()["token"]
                api.headers["Authorization"] = f"Bearer {token}"
                expected = DEVICES * CHANNELS_PER_DEVICE

                def online_channels() -> list[str]:
                    page = api.get("/channels", params={"online": "true", "limit": 500}).json()
                    return [item["id"] for item in page["items"]]

                _wait(lambda: len(online_channels()) == expected, 90, "channels online")
                channel_ids = online_channels()
                for channel_id in channel_ids:  # catalog points are class 3: turn recording on
                    answer = api.put(
                        f"/channels/{channel_id}/recording-policy", json={"enabled": True}
                    )
                    assert answer.status_code == 200, answer.text

            def every_channel_has_a_segment() -> bool:
                return {r.channel_id for r in _rows(data_dir)} == set(channel_ids)

            _wait(every_channel_has_a_segment, 90, "a finished segment on every channel")
            time.sleep(SEGMENT_S / 2)  # open files hold a few whole fragments
            sent = sim.kill_counting(server)  # SIGKILL: no flush, no finishing of open files
            server.wait(timeout=10)
    finally:
        sim.stop()
    before_rows = {r.path: r for r in _rows(data_dir)}
    before_files = _segment_files(pool)
    orphans = set(before_files) - set(before_rows)
    assert orphans, "the kill should have left open segment files without rows"

    # Restart: reconciliation runs before anything records.
    with _serve(data_dir, http_port, sip_port, "serve-2.log"):
        pass
    rows = _rows(data_dir)
    files = _segment_files(pool)
    assert {r.path for r in rows} == set(files)
    by_channel: dict[str, list[SegmentRow]] = {}
    for row in rows:
        data = (pool / row.path).read_bytes()
        assert len(data) == row.size_bytes
        assert hashlib.sha256(data).hexdigest() == row.sha256
        by_channel.setdefault(row.channel_id, []).append(row)
    recovered = [r for r in rows if r.recovered]
    assert {r.path for r in recovered} <= orphans
    assert recovered
    for row in recovered:
        # Only a torn tail was cut: less than one fragment's worth of bytes.
        torn = before_files[row.path] - row.size_bytes
        assert 0 <= torn < max(f.size_bytes for f in row.fragments) + 1_000_000
        assert _ffprobe_frames(pool / row.path) == row.frames
    assert set(sent) == set(channel_ids), "every channel's play was sending at the kill"
    lost: dict[str, int] = {}
    for channel_id in channel_ids:
        channel_rows = sorted(by_channel[channel_id], key=lambda r: (r.run_id, r.start_90k))
        for before, after in itertools.pairwise(channel_rows):
            if before.run_id == after.run_id:  # no fragment missing inside a run
                assert after.start_90k == before.start_90k + before.duration_90k
        ssrc, frames_sent = sent[channel_id]
        last_ssrc, last_number = _last_frame(pool, channel_rows[-1])
        assert last_ssrc == ssrc, f"{channel_id}: nothing of the play running at the kill kept"
        lost[channel_id] = frames_sent - (last_number + 1)
    print(f"frames lost per channel at the kill: {sorted(lost.values())}")
    worst = max(lost, key=lambda channel_id: lost[channel_id])
    assert all(0 <= n <= MAX_LOSS_FRAMES for n in lost.values()), (
        f"{worst} lost {lost[worst]} frames at the crash (at most {MAX_LOSS_FRAMES}): {lost}"
    )
