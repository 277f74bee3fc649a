"""An H.265 simulated camera: the PS stream (type 0x24) is ingested as H.265 samples that
FFmpeg decodes as HEVC, and snapshots of it still work."""

from __future__ import annotations

import asyncio
import io

import av
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.media.snapshot import Snapshotter
from vigil.protocols.samples import Codec, Sample

from .conftest import live_path

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("transport", ["udp", "tcp_passive"])
async def test_h265_ingest_decodes_as_hevc(engine: AsyncEngine, transport: str) -> None:
    async with live_path(
        engine, media={"default_transport": transport}, sim={"video_codec": "h265"}
    ) as path:
        channel_id, device_id = path.channel
        async with await path.streams.open_live(channel_id, device_id) as lease:
            samples: list[Sample] = []
            async with asyncio.timeout(15), lease.hub.subscribe(video_only=True) as subscription:
                async for sample in subscription:
                    samples.append(sample)
                    if len(samples) >= 30:
                        break
            params = lease.hub.parameter_sets
            jpeg = await Snapshotter(timeout_s=10).jpeg(lease.hub)
    assert {s.codec for s in samples} == {Codec.H265}
    assert samples[0].is_key
    assert params is not None
    assert params.codec is Codec.H265
    assert (params.width, params.height) == (320, 180)
    decoder = av.CodecContext.create("hevc", "r")
    frames = [f for s in samples for f in decoder.decode(av.Packet(s.data))]
    frames += decoder.decode(None)
    assert len(frames) == len(samples)
    assert decoder.name == "hevc"
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        picture = next(container.decode(video=0))
    assert (picture.width, picture.height) == (320, 180)
