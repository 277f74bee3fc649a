"""An independent peer end to end: FFmpeg's own MPEG-PS muxer → RTP over loopback UDP →
MediaServer → live fMP4 → ffprobe and ffmpeg read it back without errors.

Debian's ffmpeg/ffprobe are the peers; with CI=true their absence fails the test.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import pytest

from tests.media.media_streams import (
    eventually,
    ffmpeg_decode_errors,
    ffprobe_frames,
    paced,
    require,
    shuffled,
)
from vigil.media.live import LiveFmp4Session
from vigil.media.server import MediaServer
from vigil.media.stream_handle import MediaTransport
from vigil.protocols.rtp.packetizer import RtpPacketizer

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SSRC = 200000007


def ffmpeg_program_stream(tmp: Path) -> bytes:
    """2 s of 640x360 at 25 fps, H.264 by libx264, muxed by FFmpeg's ``mpeg`` muxer."""
    out = tmp / "source.mpg"
    subprocess.run(
        [
            require("ffmpeg"),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25",
            "-t",
            "2",
            "-pix_fmt",
            "yuv420p",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-bf",
            "0",
            "-f",
            "mpeg",
            str(out),
        ],
        check=True,
        timeout=120,
    )
    return out.read_bytes()


@pytest.mark.parametrize("transport", [MediaTransport.UDP, MediaTransport.TCP_PASSIVE])
async def test_ffmpeg_ps_over_rtp_to_fmp4_read_by_ffprobe(
    media: MediaServer, tmp_path: Path, transport: MediaTransport
) -> None:
    program_stream = ffmpeg_program_stream(tmp_path)
    handle = await media.open_stream(SSRC, transport)
    session = LiveFmp4Session.open(handle.hub)
    messages: list[bytes] = []

    async def collect() -> None:
        async for message in session:
            messages.append(message)

    collector = asyncio.create_task(collect())
    # FFmpeg's packs are not aligned to frames: one timestamp, marker on the last packet.
    wire = RtpPacketizer(SSRC, first_sequence=65000).packetize(program_stream, 0)
    if transport is MediaTransport.UDP:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            target = ("127.0.0.1", handle.local_port)
            await paced(shuffled(wire, seed=9), lambda d: sender.sendto(d, target))
            await eventually(lambda: handle.stats().frames == 50)
    else:
        _, writer = await asyncio.open_connection("127.0.0.1", handle.local_port)
        writer.write(b"".join(len(d).to_bytes(2, "big") + d for d in wire))
        await writer.drain()
        await eventually(lambda: handle.stats().frames == 50)
        writer.close()
    stats = handle.stats()
    assert (stats.lost_packets, stats.ps_errors, stats.rtp_errors) == (0, 0, 0)
    assert (stats.width, stats.height, stats.keyframes) == (640, 360, 2)
    media.close_stream(handle)
    await asyncio.wait_for(collector, 5)
    path = tmp_path / "out.mp4"
    path.write_bytes(b"".join(messages))
    info, stderr = await ffprobe_frames(path)
    assert stderr == ""
    assert info == {"codec_name": "h264", "width": 640, "height": 360, "nb_read_frames": "50"}
    assert await ffmpeg_decode_errors(path) == ""
