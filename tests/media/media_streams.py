"""Test streams for the media layer: encoded test patterns → our PsMuxer → RtpPacketizer.

Each datagram is tagged with the index of the frame it carries, so a test that drops
packets knows which frames it destroyed.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.protocols.media_samples import encode_video
from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.samples import Codec, Sample


@dataclass(frozen=True)
class RtpStream:
    ssrc: int
    datagrams: list[bytes]
    frame_of: list[int]  # frame index carried by each datagram
    frames: int
    keyframes: int
    width: int
    height: int


def samples(
    frames: int = 50, width: int = 320, height: int = 240, gop: int = 25, codec: str = "libx264"
) -> list[Sample]:
    kind = Codec.H265 if codec == "libx265" else Codec.H264
    # Start at 1 s: a stream never starts at timestamp zero in the field.
    return [
        Sample(kind, f.pts_90k + 90000, f.dts_90k + 90000, f.is_key, f.data)
        for f in encode_video(codec, width, height, frames, gop=gop)
    ]


def rtp_stream(
    ssrc: int,
    *,
    frames: int = 50,
    width: int = 320,
    height: int = 240,
    gop: int = 25,
    first_sequence: int = 0,
    max_payload: int = 1400,
) -> RtpStream:
    source = samples(frames, width, height, gop)
    muxer = PsMuxer(Codec.H264)
    packetizer = RtpPacketizer(ssrc, first_sequence=first_sequence, max_payload=max_payload)
    datagrams: list[bytes] = []
    frame_of: list[int] = []
    for index, sample in enumerate(source):
        packets = packetizer.packetize(muxer.mux(sample), sample.pts_90k)
        datagrams += packets
        frame_of += [index] * len(packets)
    keyframes = sum(s.is_key for s in source)
    return RtpStream(ssrc, datagrams, frame_of, len(source), keyframes, width, height)


def shuffled(datagrams: list[bytes], block: int = 6, seed: int = 1) -> list[bytes]:
    """Reorder within small blocks, as a jittery network does (the reorder window copes).

    The first packet stays first: a receiver takes its sequence number as the start.
    """
    rnd = random.Random(seed)
    out = list(datagrams)
    for i in range(1, len(out), block):
        chunk = out[i : i + block]
        rnd.shuffle(chunk)
        out[i : i + block] = chunk
    return out


async def eventually(
    condition: Callable[[], bool], timeout_s: float = 5.0, message: str = ""
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            pytest.fail(message or "condition not met in time")
        await asyncio.sleep(0.02)


async def paced(items: list[bytes], send: Callable[[bytes], object], burst: int = 20) -> None:
    """Send in bursts, yielding to the event loop between them (receivers share it)."""
    for i, item in enumerate(items):
        result = send(item)
        if isinstance(result, Awaitable):
            await result
        if i % burst == burst - 1:
            await asyncio.sleep(0.001)


def require(tool: str) -> str:
    """An independent peer from Debian; with CI=true its absence fails the test."""
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{tool} is required in CI and is not installed")
        pytest.skip(f"{tool} not installed")
    return path


async def ffprobe_frames(path: Path) -> tuple[dict[str, object], str]:
    """ffprobe's count of decodable video frames, codec and size, plus its stderr."""
    process = await asyncio.create_subprocess_exec(
        require("ffprobe"), "-v", "error", "-count_frames", "-show_entries",
        "stream=nb_read_frames,codec_name,width,height", "-of", "json", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr
    return json.loads(stdout)["streams"][0], stderr.decode(errors="replace")


async def ffmpeg_decode_errors(path: Path) -> str:
    """What ffmpeg complains about while decoding the whole file (empty: nothing)."""
    process = await asyncio.create_subprocess_exec(
        require("ffmpeg"), "-v", "error", "-i", str(path), "-f", "null", "-",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr
    return stderr.decode(errors="replace")
