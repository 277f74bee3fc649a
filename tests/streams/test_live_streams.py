"""Live plays end to end on loopback: INVITE to the simulator, PS/RTP into the media server,
fMP4 and JPEG out; sharing, grace-period BYE and the verdict of a device that never sends."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from pathlib import Path

import av
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.media.live import LiveFmp4Session, is_init_segment
from vigil.media.snapshot import Snapshotter
from vigil.streams import LiveStreams, PlayError

from ..signaling.conftest import eventually
from .conftest import live_path

pytestmark = pytest.mark.integration


async def _collect(
    streams: LiveStreams, channel_id: str, device_id: str, count: int
) -> list[bytes]:
    lease = await streams.open_live(channel_id, device_id)
    messages: list[bytes] = []
    async with lease:
        async with asyncio.timeout(15):
            async with LiveFmp4Session.open(lease.hub) as live:
                async for message in live:
                    messages.append(message)
                    if len(messages) >= count:
                        break
    return messages


async def test_live_fmp4_from_the_simulator(engine: AsyncEngine) -> None:
    async with live_path(engine) as path:
        channel_id, device_id = path.channel
        messages = await _collect(path.streams, channel_id, device_id, 30)
        assert is_init_segment(messages[0])
        assert not any(is_init_segment(m) for m in messages[1:])
        session = path.streams.session(channel_id)
        assert session is not None
        assert session.state == "playing"
        kinds = [e.kind for e in session.timeline()]
        for kind in ("invite_sent", "answered", "first_packet", "first_keyframe"):
            assert kind in kinds
        assert session.verdict is None


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe")
async def test_ffprobe_reads_the_live_output(engine: AsyncEngine, tmp_path: Path) -> None:
    async with live_path(engine) as path:
        channel_id, device_id = path.channel
        messages = await _collect(path.streams, channel_id, device_id, 40)
    output = tmp_path / "live.mp4"
    output.write_bytes(b"".join(messages))
    probe = await asyncio.to_thread(
        subprocess.run,
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
         "-show_entries", "stream=nb_read_frames,width,height,codec_name",
         "-of", "csv=p=0", str(output)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    assert probe.stderr.strip() == ""
    codec, width, height, frames = probe.stdout.strip().split(",")
    assert (codec, width, height) == ("h264", "320", "180")
    assert int(frames) > 0


async def test_snapshot_is_a_jpeg_of_the_right_size(engine: AsyncEngine) -> None:
    async with live_path(engine) as path:
        channel_id, device_id = path.channel
        async with await path.streams.open_live(channel_id, device_id) as lease:
            jpeg = await Snapshotter(timeout_s=10).jpeg(lease.hub)
    assert jpeg[:2] == b"\xff\xd8"
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(container.decode(video=0))
    assert (frame.width, frame.height) == (320, 180)


async def test_two_opens_share_one_invite_and_grace_ends_with_bye(engine: AsyncEngine) -> None:
    async with live_path(engine, grace_s=0.3) as path:
        channel_id, device_id = path.channel
        device = path.sim.devices[device_id]
        first, second = await asyncio.gather(
            path.streams.open_live(channel_id, device_id),
            path.streams.open_live(channel_id, device_id),
        )
        assert first.handle is second.handle
        assert path.streams.invites_sent == 1
        assert len(device.requests.calls) == 1
        first.release()
        await asyncio.sleep(0.6)
        assert device.requests.byes == 0  # one viewer left
        second.release()
        third = await path.streams.open_live(channel_id, device_id)  # within the grace period
        assert path.streams.invites_sent == 1
        third.release()
        await eventually(lambda: device.requests.byes == 1, timeout_s=5)
        assert not device.requests.calls
        session = path.streams.session(channel_id)
        assert session is not None
        assert session.state == "closed"
        assert path.streams.active == 0
        assert not path.media.streams()


async def test_a_device_that_never_sends_gets_a_verdict(engine: AsyncEngine) -> None:
    async with live_path(engine, sim={"media_mute": True}) as path:
        channel_id, device_id = path.channel
        lease = await path.streams.open_live(channel_id, device_id)
        await eventually(
            lambda: (s := path.streams.session(channel_id)) is not None and s.state == "failed",
            timeout_s=10,
        )
        lease.release()
        session = path.streams.session(channel_id)
        assert session is not None
        assert session.verdict is not None
        assert session.verdict.startswith("no RTP within 2 s")
        assert "media address" in session.verdict
        device = path.sim.devices[device_id]
        await eventually(lambda: device.requests.byes == 1, timeout_s=5)


async def test_unknown_channel_is_refused_with_a_verdict(engine: AsyncEngine) -> None:
    async with live_path(engine) as path:
        _, device_id = path.channel
        with pytest.raises(PlayError, match=r"refused the INVITE.*404"):
            await path.streams.open_live("34020000001310999999", device_id)
        assert not path.media.streams()
        session = path.streams.session("34020000001310999999")
        assert session is not None
        assert session.state == "failed"


async def test_a_device_bye_ends_the_play_with_a_verdict(engine: AsyncEngine) -> None:
    async with live_path(engine) as path:
        channel_id, device_id = path.channel
        device = path.sim.devices[device_id]
        lease = await path.streams.open_live(channel_id, device_id)
        assert await asyncio.wait_for(device.requests.hang_up(), 5) == [200]
        await eventually(lambda: path.streams.active == 0, timeout_s=5)
        lease.release()
        session = path.streams.session(channel_id)
        assert session is not None
        assert session.state == "failed"
        assert session.verdict == "the device ended the call (BYE)"
        assert "bye_received" in [e.kind for e in session.timeline()]
        assert path.streams.byes_sent == 0
        assert lease.hub.closed
