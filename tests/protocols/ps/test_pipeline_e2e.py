"""FFmpeg's own PS muxer → our RTP, reorder, PS demux and fMP4 → ffprobe reads it back.

Debian's ffmpeg/ffprobe are the independent peers. With CI=true a missing tool fails the
test instead of skipping it.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.ps.demuxer import PsDemuxer
from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.rtp.reorder import Reorderer
from vigil.protocols.samples import Sample

pytestmark = pytest.mark.e2e


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is required in CI and is not installed")
        pytest.skip(f"{tool} not installed")
    return path


def ffmpeg_program_stream(tmp: Path, fmt: str, bframes: int, codec: str = "libx264") -> bytes:
    """2 s of 640x360 at 25 fps. With B-frames the quality is raised so that every frame is
    larger than a PES: FFmpeg's muxer gives timestamps only to the first frame commencing
    in a PES, and a B-frame's missing PTS cannot be repaired without decoding its POC."""
    out = tmp / f"source.{fmt}"
    quality = ["-vf", "noise=alls=40:allf=t+u", "-qp", "10"] if bframes else []
    subprocess.run(
        [require("ffmpeg"), "-v", "error", "-y", "-f", "lavfi",
         "-i", "testsrc=size=640x360:rate=25", "-t", "2", "-pix_fmt", "yuv420p",
         "-c:v", codec, *quality, "-g", "25", "-bf", str(bframes), "-f", fmt, str(out)],
        check=True, timeout=120,
    )  # fmt: skip
    return out.read_bytes()


def pipeline(stream: bytes, mode: FragmentMode) -> tuple[bytes, PsDemuxer, Reorderer]:
    """RTP packetise, reorder locally, parse, reorder back, demux, write fMP4."""
    packetizer = RtpPacketizer(0x0BEBC201, first_sequence=65000)
    wire = packetizer.packetize(stream, 0)
    rnd = random.Random(1)
    for i in range(1, len(wire) - 8, 8):
        block = wire[i : i + 8]
        rnd.shuffle(block)
        wire[i : i + 8] = block
    reorder = Reorderer(window=32)
    demuxer = PsDemuxer()
    writer = Fmp4Writer(mode)
    samples: list[Sample] = []
    for datagram in wire:
        for packet in reorder.push(RtpPacket.parse(datagram)):
            samples += demuxer.push(packet.payload)
    for packet in reorder.flush():
        samples += demuxer.push(packet.payload)
    samples += demuxer.flush()
    out = [chunk for s in samples for chunk in writer.push(s)] + writer.flush()
    return b"".join(out), demuxer, reorder


def probe(path: Path) -> tuple[dict[str, object], str]:
    result = subprocess.run(
        [require("ffprobe"), "-v", "error", "-count_frames", "-show_entries",
         "stream=nb_read_frames,codec_name,width,height", "-of", "json", str(path)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout)["streams"][0], result.stderr


@pytest.mark.parametrize(
    ("fmt", "bframes", "mode"),
    [("mpeg", 0, FragmentMode.FRAME), ("vob", 0, FragmentMode.GOP), ("vob", 2, FragmentMode.GOP)],
)
def test_ffmpeg_ps_to_fmp4_read_by_ffprobe(
    tmp_path: Path, fmt: str, bframes: int, mode: FragmentMode
) -> None:
    stream = ffmpeg_program_stream(tmp_path, fmt, bframes)
    mp4, demuxer, reorder = pipeline(stream, mode)
    assert demuxer.stats.errors == 0
    assert reorder.stats.lost == 0
    path = tmp_path / "out.mp4"
    path.write_bytes(mp4)
    stream_info, stderr = probe(path)
    assert stderr == ""
    assert stream_info == {"codec_name": "h264", "width": 640, "height": 360,
                           "nb_read_frames": "50"}  # fmt: skip
    decode = subprocess.run(
        [require("ffmpeg"), "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert decode.stderr == ""


def test_ffmpeg_h265_ps_to_fmp4(tmp_path: Path) -> None:
    stream = ffmpeg_program_stream(tmp_path, "vob", 0, "libx265")
    mp4, demuxer, _ = pipeline(stream, FragmentMode.FRAME)
    assert demuxer.stats.errors == 0
    path = tmp_path / "out.mp4"
    path.write_bytes(mp4)
    stream_info, stderr = probe(path)
    assert stderr == ""
    assert stream_info == {"codec_name": "hevc", "width": 640, "height": 360,
                           "nb_read_frames": "50"}  # fmt: skip
