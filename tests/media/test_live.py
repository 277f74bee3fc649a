"""Live fMP4 sessions: message sequence, parameter changes, and ffprobe reading the result."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from tests.media.media_streams import (
    eventually,
    ffmpeg_decode_errors,
    ffprobe_frames,
    paced,
    require,
    rtp_stream,
    samples,
    shuffled,
)
from vigil.media.hub import StreamHub
from vigil.media.live import LiveFmp4Session, is_init_segment
from vigil.media.server import MediaServer
from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.samples import Codec, Sample


async def collect(session: LiveFmp4Session) -> list[bytes]:
    return [message async for message in session]


async def test_init_then_one_fragment_per_frame() -> None:
    video = samples(frames=30)
    hub = StreamHub()
    session = LiveFmp4Session.open(hub)
    collector = asyncio.create_task(collect(session))
    for s in video:
        hub.publish(s)
        hub.publish(Sample(Codec.G711A, s.pts_90k, s.pts_90k, True, b"\xd5" * 320))
    await asyncio.sleep(0.01)
    assert session.mime_type is not None
    assert session.mime_type.startswith('video/mp4; codecs="avc1.')
    hub.close()  # the stream ends: the last frame is written too
    messages = await asyncio.wait_for(collector, 5)
    assert is_init_segment(messages[0])
    assert [is_init_segment(m) for m in messages[1:]] == [False] * 30
    assert all(m[4:8] == b"moof" for m in messages[1:])
    assert session.messages == 31
    assert session.init_segments == 1
    assert session.bytes_sent == sum(len(m) for m in messages)
    assert session.init_segment == messages[0]


async def test_parameter_change_sends_a_new_init_segment() -> None:
    small = samples(frames=5)
    big = [
        Sample(s.codec, s.pts_90k + 5 * 3600, s.dts_90k + 5 * 3600, s.is_key, s.data)
        for s in samples(frames=5, width=640, height=360)
    ]
    hub = StreamHub()
    session = LiveFmp4Session.open(hub)
    collector = asyncio.create_task(collect(session))
    for s in small + big:
        hub.publish(s)
    hub.close()
    messages = await asyncio.wait_for(collector, 5)
    inits = [i for i, m in enumerate(messages) if is_init_segment(m)]
    assert inits == [0, 6]
    assert session.init_segments == 2


async def test_closing_the_session_releases_the_subscription() -> None:
    hub = StreamHub()
    session = LiveFmp4Session.open(hub)
    assert hub.subscriber_count == 1
    async with session:
        pass
    assert hub.subscriber_count == 0
    assert [m async for m in session] == []


async def test_a_waiting_session_ends_when_closed_and_matches_a_plain_writer() -> None:
    video = samples(frames=4)
    hub = StreamHub()
    session = LiveFmp4Session.open(hub)
    got: list[bytes] = []

    async def read() -> None:
        async for message in session:
            got.append(message)

    reader = asyncio.create_task(read())
    for sample in video:  # one frame per loop turn: the reader waits for each
        hub.publish(sample)
        await asyncio.sleep(0)
    session.close()
    await asyncio.wait_for(reader, 1)
    writer = Fmp4Writer(FragmentMode.FRAME)
    assert got == [m for sample in video for m in writer.push(sample)]
    assert session.messages == len(got)
    assert session.bytes_sent == sum(map(len, got))
    assert session.init_segments == 1


@pytest.mark.integration
@pytest.mark.e2e
async def test_live_fmp4_from_udp_ingest_is_read_by_ffprobe(
    media: MediaServer, tmp_path: Path
) -> None:
    require("ffprobe")
    handle = await media.open_stream(200000001)
    session = LiveFmp4Session.open(handle.hub)
    collector = asyncio.create_task(collect(session))
    stream = rtp_stream(200000001, frames=50, width=640, height=360)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        await paced(
            shuffled(stream.datagrams), lambda d: sender.sendto(d, ("127.0.0.1", media.rtp_port))
        )
        await eventually(lambda: handle.stats().frames == 50)
    media.close_stream(handle)
    messages = await asyncio.wait_for(collector, 5)
    path = tmp_path / "live.mp4"
    path.write_bytes(b"".join(messages))
    info, stderr = await ffprobe_frames(path)
    assert stderr == ""
    assert info == {"codec_name": "h264", "width": 640, "height": 360, "nb_read_frames": "50"}
    assert await ffmpeg_decode_errors(path) == ""
