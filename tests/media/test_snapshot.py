"""JPEG snapshots of the latest keyframe, checked by decoding them with PyAV."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ProcessPoolExecutor

import av
import pytest

from tests.media.media_streams import samples
from vigil.media.errors import NoKeyframeError, SnapshotDecodeError
from vigil.media.hub import StreamHub
from vigil.media.snapshot import Snapshotter, render_jpeg
from vigil.protocols.fmp4.writer import parameter_sets_of
from vigil.protocols.h264.annexb import split_nal_units
from vigil.protocols.samples import Sample


def decode_jpeg(data: bytes) -> tuple[int, int]:
    assert data[:2] == b"\xff\xd8"
    assert data[-2:] == b"\xff\xd9"
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def hub_with(video: list[Sample]) -> StreamHub:
    hub = StreamHub()
    for s in video:
        hub.publish(s)
    return hub


@pytest.mark.parametrize("codec", ["libx264", "libx265"])
async def test_snapshot_is_a_jpeg_of_the_stream_size(codec: str) -> None:
    video = samples(frames=30, width=352, height=288, codec=codec)
    hub = hub_with(video)
    shooter = Snapshotter()
    jpeg = await shooter.jpeg(hub)
    assert decode_jpeg(jpeg) == (352, 288)
    assert await shooter.jpeg(hub) is jpeg  # same keyframe: cached
    assert shooter.rendered == 1


async def test_snapshot_scaled_to_max_width() -> None:
    hub = hub_with(samples(frames=2, width=640, height=360))
    assert decode_jpeg(await Snapshotter(max_width=320).jpeg(hub)) == (320, 180)


async def test_keyframe_without_in_band_parameter_sets() -> None:
    video = samples(frames=2)
    params = parameter_sets_of(video[0])
    assert params is not None
    slices = [n for n in split_nal_units(video[0].data) if n[0] & 0x1F not in (7, 8)]
    bare = Sample(
        video[0].codec,
        video[0].pts_90k,
        video[0].dts_90k,
        True,
        b"".join(b"\x00\x00\x00\x01" + n for n in slices),
    )
    hub = StreamHub()
    hub.parameter_sets = params
    hub.publish(bare)
    assert decode_jpeg(await Snapshotter().jpeg(hub)) == (320, 240)


async def test_snapshot_waits_for_the_first_keyframe_within_the_bound() -> None:
    video = samples(frames=2)
    hub = StreamHub()
    pending = asyncio.create_task(Snapshotter(timeout_s=5).jpeg(hub))
    await asyncio.sleep(0.05)
    hub.publish(video[0])
    assert decode_jpeg(await asyncio.wait_for(pending, 5)) == (320, 240)
    with pytest.raises(NoKeyframeError):
        await Snapshotter(timeout_s=0.1).jpeg(StreamHub())


async def test_undecodable_keyframe_is_an_error() -> None:
    hub = StreamHub()
    junk = samples(frames=1)[0]
    hub.publish(Sample(junk.codec, 0, 0, True, b"\x00\x00\x00\x01\x65" + b"\xff" * 64))
    with pytest.raises(SnapshotDecodeError):
        await Snapshotter().jpeg(hub)


async def test_render_in_a_worker_process() -> None:
    keyframe = samples(frames=1)[0]
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=1) as pool:
        jpeg = await loop.run_in_executor(pool, render_jpeg, keyframe.data, "h264", 0)
        assert decode_jpeg(jpeg) == (320, 240)
        hub = hub_with([keyframe])
        assert decode_jpeg(await Snapshotter(executor=pool).jpeg(hub)) == (320, 240)
