"""Playback of device recordings end to end on loopback (GB/T 28181-2016 §9.8, §9.9,
Appendix B): Playback/Download INVITE to the simulator, PS/RTP into the media server,
INFO/MANSRTSP control, and the end-of-file MediaStatus 121 closing the play."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.media.live import LiveFmp4Session, is_init_segment
from vigil.playbacks import DevicePlayback, DevicePlaybacks, PlaybackError
from vigil.sim.sim_playback import PTS_MASK, PlaybackSender

from ..signaling.conftest import eventually, sqlite_engine
from .conftest import LivePath, live_path

__all__ = ["sqlite_engine"]

pytestmark = pytest.mark.integration

HOUR_S = 3600


def _recorded_start() -> int:
    """Two hours before the last whole hour: recorded on every simulated channel (their gaps
    are 4-8 and 28-34 hours back)."""
    return int(time.time()) // HOUR_S * HOUR_S - 2 * HOUR_S


@contextlib.asynccontextmanager
async def playback_path(
    engine: AsyncEngine, **sim: Any
) -> AsyncIterator[tuple[LivePath, DevicePlaybacks]]:
    async with live_path(engine, sim=sim) as path:
        playbacks = DevicePlaybacks(path.signaling, path.media, path.settings)
        try:
            yield path, playbacks
        finally:
            await playbacks.close()


def _sender(path: LivePath, play: DevicePlayback) -> PlaybackSender:
    device = next(iter(path.sim.devices.values()))
    assert play.invite is not None
    return device.requests.playbacks.calls[play.invite.dialog.call_id][1]


async def _frames_in(play: DevicePlayback, seconds: float) -> int:
    assert play.handle is not None
    before = play.handle.stats().frames
    await asyncio.sleep(seconds)
    return play.handle.stats().frames - before


async def test_playback_streams_the_window_as_fmp4(sqlite_engine: AsyncEngine) -> None:
    async with playback_path(sqlite_engine) as (path, playbacks):
        channel_id, device_id = path.channel
        start = _recorded_start()
        play = await playbacks.open(channel_id, device_id, start, start + 600)
        assert play.ssrc.startswith("1")  # history SSRC (Appendix F)
        assert play.invite is not None
        assert play.invite.answer.session_name == "Playback"
        assert play.invite.answer.start_end == (start, start + 600)
        first = await asyncio.wait_for(play.hub.wait_keyframe(), 10)
        assert first.pts_90k % (PTS_MASK + 1) == (start % 86_400) * 90_000
        messages: list[bytes] = []
        async with asyncio.timeout(10), LiveFmp4Session.open(play.hub) as session:
            async for message in session:
                messages.append(message)
                if len(messages) >= 10:
                    break
        assert is_init_segment(messages[0])
        await play.close()
        assert play.state == "closed"
        kinds = [event.kind for event in play.timeline()]
        for kind in ("invite_sent", "answered", "first_packet", "bye_sent", "bye_answered"):
            assert kind in kinds
        await eventually(lambda: not _device_calls(path))


def _device_calls(path: LivePath) -> dict[str, Any]:
    return next(iter(path.sim.devices.values())).requests.playbacks.calls


async def test_pause_resume_and_scale_through_info(sqlite_engine: AsyncEngine) -> None:
    async with playback_path(sqlite_engine) as (path, playbacks):
        channel_id, device_id = path.channel
        start = _recorded_start()
        play = await playbacks.open(channel_id, device_id, start, start + 600)
        await asyncio.wait_for(play.hub.wait_keyframe(), 10)
        normal = await _frames_in(play, 1.5)
        await play.pause()
        await asyncio.sleep(0.3)  # frames already in flight
        assert await _frames_in(play, 1.0) == 0
        await play.resume()
        await asyncio.sleep(0.3)
        assert await _frames_in(play, 1.0) > 10
        await play.set_scale(2.0)
        await asyncio.sleep(0.3)
        doubled = await _frames_in(play, 1.5)
        assert 1.5 < doubled / normal < 2.6, (normal, doubled)
        sender = _sender(path, play)
        commands = [(c.method, c.scale, c.range) for c in path_infos(path)]
        assert [c[0] for c in commands] == ["PAUSE", "PLAY", "PLAY"]
        assert commands[2][1] == 2.0
        await play.seek(300)
        await eventually(lambda: sender.position_s >= start + 300)
        assert sender.position_s < start + 310
        with pytest.raises(ValueError, match="scale"):
            await play.set_scale(16)
        assert play.state == "playing"


def path_infos(path: LivePath) -> list[Any]:
    return next(iter(path.sim.devices.values())).requests.playbacks.info_received


async def test_end_of_file_media_status_closes_the_play(sqlite_engine: AsyncEngine) -> None:
    async with playback_path(sqlite_engine) as (path, playbacks):
        channel_id, device_id = path.channel
        start = _recorded_start()
        play = await playbacks.open(channel_id, device_id, start, start + 2)
        viewer = LiveFmp4Session.open(play.hub)
        await asyncio.wait_for(play.ended.wait(), 15)
        assert play.state == "finished"
        kinds = [event.kind for event in play.timeline()]
        assert kinds.index("end_of_file") < kinds.index("bye_sent")
        assert path.signaling.playback_control.media_status_received == 1
        assert play.handle is not None
        assert 40 <= play.handle.stats().frames <= 52  # 2 s at 25 fps
        async with asyncio.timeout(5):  # the viewer's stream ends with the play
            async for _ in viewer:
                pass
        await eventually(lambda: not _device_calls(path))
        assert playbacks.active == 0
        assert playbacks.get(play.play_id) is play


async def test_download_runs_at_the_download_speed(sqlite_engine: AsyncEngine) -> None:
    async with playback_path(sqlite_engine) as (path, playbacks):
        channel_id, device_id = path.channel
        start = _recorded_start()
        began = time.monotonic()
        play = await playbacks.open(
            channel_id, device_id, start, start + 8, mode="download", download_speed=4
        )
        assert play.invite is not None
        assert play.invite.answer.session_name == "Download"
        await asyncio.wait_for(play.ended.wait(), 15)
        assert play.state == "finished"
        assert time.monotonic() - began < 6.0  # 8 s of recording at 4× takes about 2 s


async def test_a_window_without_recordings_is_refused(sqlite_engine: AsyncEngine) -> None:
    async with playback_path(sqlite_engine) as (path, playbacks):
        channel_id, device_id = path.channel
        long_ago = _recorded_start() - 30 * 86_400
        with pytest.raises(PlaybackError, match="404") as refused:
            await playbacks.open(channel_id, device_id, long_ago, long_ago + 60)
        assert refused.value.status == 502
        assert playbacks.active == 0
        assert not path.media.streams()  # the media stream opened for it was closed
