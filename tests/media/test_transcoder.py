"""H.265 → H.264 for live view: the codec step on the simulator's H.265 clip (decoded back
by FFmpeg), and the pool: one transcoder per channel shared by its viewers, stopped with
the last one, the source hub left as it was."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator

import av
import pytest

from tests.signaling.conftest import eventually
from vigil.media.hub import StreamHub
from vigil.media.transcoder import H265ToH264, TranscoderPool, TranscoderUnavailableError
from vigil.protocols.samples import Codec, Sample
from vigil.sim.sim_media import FRAME_90K, encode_clip


def _h265_samples(count: int) -> list[Sample]:
    clip = encode_clip(320, 180, "0265", Codec.H265)
    samples = []
    for index in range(count):
        data, key = clip[index % len(clip)]
        ts = 90_000 + index * FRAME_90K
        samples.append(Sample(Codec.H265, ts, ts, key, data))
    return samples


def test_h265_becomes_decodable_h264_with_the_source_keyframes() -> None:
    source = _h265_samples(75)
    assert av.CodecContext.create("hevc", "r").decode(av.Packet(source[0].data))
    codec = H265ToH264()
    out = [s for sample in source for s in codec.push(sample, None)]
    assert len(out) == len(source)  # zerolatency: one picture out per picture in
    assert all(s.codec is Codec.H264 for s in out)
    assert [i for i, s in enumerate(out) if s.is_key] == [
        i for i, s in enumerate(source) if s.is_key
    ]
    assert [s.pts_90k for s in out] == [s.pts_90k for s in source]
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for s in out for f in decoder.decode(av.Packet(s.data))]
    frames += decoder.decode(None)
    assert len(frames) == len(source)
    assert (frames[0].width, frames[0].height) == (320, 180)


def test_a_delta_without_its_keyframe_yields_nothing() -> None:
    source = _h265_samples(30)
    codec = H265ToH264()
    assert [s for sample in source[1:25] for s in codec.push(sample, None)] == []
    resumed = codec.push(source[25], None)  # the next keyframe
    assert len(resumed) == 1
    assert resumed[0].is_key


@contextlib.asynccontextmanager
async def running(pool: TranscoderPool) -> AsyncIterator[TranscoderPool]:
    task = asyncio.create_task(pool.run())
    await asyncio.sleep(0)
    try:
        yield pool
    finally:
        pool.stop()
        await asyncio.wait_for(task, 5)


async def _take(hub: StreamHub, count: int) -> list[Sample]:
    taken: list[Sample] = []
    async with asyncio.timeout(10), hub.subscribe(video_only=True) as subscription:
        async for sample in subscription:
            taken.append(sample)
            if len(taken) >= count:
                break
    return taken


async def test_viewers_share_one_transcoder_that_stops_with_the_last() -> None:
    source = StreamHub()
    samples = _h265_samples(200)

    async def feed() -> None:
        for sample in samples:
            source.publish(sample)
            await asyncio.sleep(0.005)

    async with running(TranscoderPool(queue_samples=50)) as pool:
        first = pool.acquire("ch1", source)
        second = pool.acquire("ch1", source)
        assert first.transcoder is second.transcoder
        assert pool.active == 1
        assert pool.started == 1
        feeder = asyncio.create_task(feed())
        try:
            got = await _take(first.hub, 30)
        finally:
            feeder.cancel()
        assert got[0].is_key
        assert all(s.codec is Codec.H264 for s in got)
        assert source.last_keyframe is not None
        assert source.last_keyframe.codec is Codec.H265  # the source keeps its bitstream
        transcoder = first.transcoder
        thread_name = f"h265-{transcoder.key}"
        first.release()
        assert transcoder.running  # one viewer left
        second.release()
        assert pool.active == 0
        assert first.hub.closed
        await asyncio.sleep(0.1)
        assert not transcoder.running
        assert not [t for t in threading.enumerate() if t.name.startswith(thread_name)]
        third = pool.acquire("ch1", source)  # a new viewer starts a new one
        assert third.transcoder is not transcoder
        assert pool.started == 2
        third.release()


async def test_a_transcoder_behind_skips_to_the_next_keyframe() -> None:
    source = StreamHub()
    # 7 s of video (GOP 25) arriving at once, the transcoder holding 30 frames: the hub
    # skips its backlog to keyframes and only the last GOP (frames 150-174) is left.
    samples = _h265_samples(175)
    async with running(TranscoderPool(queue_samples=30)) as pool:
        lease = pool.acquire("ch1", source)
        subscription = lease.hub.subscribe(video_only=True, max_samples=500)
        await asyncio.sleep(0)  # the transcoder subscribes
        for sample in samples:
            source.publish(sample)
        codec = lease.transcoder.codec
        await eventually(lambda: codec.frames_in >= 25, timeout_s=10)
        await asyncio.sleep(0.1)
        lease.release()
        got = [s async for s in subscription]
    assert codec.frames_in == 25  # the backlog was skipped; ingest never waited
    assert codec.decode_errors == 0  # it resumed at a keyframe, not at a broken delta
    assert len(got) == 25
    assert got[0].is_key
    assert got[0].pts_90k == samples[150].pts_90k
    assert lease.transcoder.skipped_samples > 0


async def test_an_idle_pool_refuses() -> None:
    with pytest.raises(TranscoderUnavailableError):
        TranscoderPool().acquire("ch1", StreamHub())
