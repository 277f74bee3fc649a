"""The hub: GOP cache for late subscribers, laggards skipping to keyframes, lifecycle."""

from __future__ import annotations

import asyncio

import pytest

from tests.media.media_streams import samples
from vigil.media.errors import StreamClosedError
from vigil.media.hub import StreamHub
from vigil.protocols.samples import Codec, Sample


def audio(pts: int) -> Sample:
    return Sample(Codec.G711A, pts, pts, True, b"\xd5" * 320)


async def drain(subscription: object, count: int) -> list[Sample]:
    out: list[Sample] = []
    if count == 0:
        return out
    async for sample in subscription:  # type: ignore[attr-defined]
        out.append(sample)
        if len(out) == count:
            break
    return out


async def test_late_subscriber_starts_at_the_cached_keyframe() -> None:
    video = samples(frames=40, gop=25)
    hub = StreamHub()
    for s in video[:30]:
        hub.publish(s)
    late = hub.subscribe()
    assert late.queued == 5  # frames 25..29: the GOP since the second keyframe
    for s in video[30:]:
        hub.publish(s)
    got = await drain(late, 15)
    assert got[0].is_key
    assert [s.pts_90k for s in got] == [s.pts_90k for s in video[25:]]
    assert hub.gop()[0] is video[25]
    assert hub.last_keyframe is video[25]


async def test_subscriber_before_any_keyframe_waits_for_one() -> None:
    video = samples(frames=30, gop=25)
    hub = StreamHub()
    early = hub.subscribe()
    for s in video[1:]:  # the first keyframe is lost
        hub.publish(s)
    got = await drain(early, 5)
    assert got[0] is video[25]
    assert early.skipped_samples == 24


async def test_slow_subscriber_skips_to_next_keyframe_without_stalling_others() -> None:
    video = samples(frames=56, gop=25)
    hub = StreamHub(queue_max_samples=10)
    fast = hub.subscribe()
    slow = hub.subscribe()
    received: list[Sample] = []

    async def consume_fast() -> None:
        async for s in fast:
            received.append(s)
            if len(received) == len(video):
                return

    consumer = asyncio.create_task(consume_fast())
    for s in video:  # ingest never waits: publish is synchronous
        hub.publish(s)
        await asyncio.sleep(0)
    await asyncio.wait_for(consumer, 5)
    assert [s.pts_90k for s in received] == [s.pts_90k for s in video]
    assert fast.skips == 0
    # The slow one read nothing: it overflowed in each GOP and now holds keyframe 50 on.
    assert slow.skips == 2
    assert hub.gop_skips == 2
    assert slow.queued == 6
    got = await drain(slow, slow.queued)
    assert got[0].is_key
    assert got[0].pts_90k == video[50].pts_90k
    assert [s.pts_90k for s in got] == [s.pts_90k for s in video[50 : 50 + len(got)]]
    assert slow.skipped_samples + len(got) == len(video)


async def test_laggard_resumes_with_contiguous_frames_after_a_keyframe() -> None:
    video = samples(frames=60, gop=20)
    hub = StreamHub(queue_max_samples=5)
    sub = hub.subscribe()
    for s in video[:12]:  # overflow during the first GOP
        hub.publish(s)
    assert sub.skips == 1
    assert sub.queued == 0
    for s in video[12:23]:
        hub.publish(s)
    got = await drain(sub, 3)
    assert [s.pts_90k for s in got] == [s.pts_90k for s in video[20:23]]
    assert got[0].is_key


async def test_video_only_subscription_and_audio_in_gop() -> None:
    video = samples(frames=5)
    hub = StreamHub()
    for s in video:
        hub.publish(s)
        hub.publish(audio(s.pts_90k))
    both = hub.subscribe()
    only_video = hub.subscribe(video_only=True)
    assert both.queued == 10
    assert only_video.queued == 5


async def test_gop_cache_bounded_by_count_and_bytes() -> None:
    video = samples(frames=30, gop=25)
    hub = StreamHub(gop_max_samples=10)
    for s in video[:20]:
        hub.publish(s)
    assert hub.gop() == ()
    assert hub.gop_overflows == 1
    late = hub.subscribe()
    assert late.queued == 0  # nothing cacheable: wait for the next keyframe
    for s in video[20:]:
        hub.publish(s)
    assert (await drain(late, 1))[0] is video[25]

    small = StreamHub(gop_max_bytes=len(video[0].data) + 1)
    small.publish(video[0])
    small.publish(video[1])
    assert small.gop() == ()


async def test_subscriber_count_callback_and_close() -> None:
    counts: list[int] = []
    hub = StreamHub(on_subscribers_changed=counts.append)
    a = hub.subscribe()
    async with hub.subscribe() as b:
        assert hub.subscriber_count == 2
    assert b.closed
    a.close()
    a.close()
    assert counts == [1, 2, 1, 0]
    assert hub.subscriber_count == 0


async def test_hub_close_ends_iteration_after_queued_samples() -> None:
    video = samples(frames=3)
    hub = StreamHub()
    sub = hub.subscribe()
    for s in video:
        hub.publish(s)
    hub.close()
    assert sub.ended
    got = [s async for s in sub]
    assert len(got) == 3
    with pytest.raises(StreamClosedError):
        hub.subscribe()


async def test_waiting_consumer_is_woken_by_publish_and_by_close() -> None:
    video = samples(frames=2)
    hub = StreamHub()
    sub = hub.subscribe()
    waiter = asyncio.create_task(sub.__anext__())
    await asyncio.sleep(0)
    hub.publish(video[0])
    assert await asyncio.wait_for(waiter, 1) is video[0]
    ender = asyncio.create_task(sub.__anext__())
    await asyncio.sleep(0)
    sub.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(ender, 1)


async def test_a_cancelled_wait_loses_nothing_and_poll_does_not_wait() -> None:
    video = samples(frames=3)
    hub = StreamHub()
    sub = hub.subscribe()
    assert sub.poll() is None
    cancelled = asyncio.create_task(sub.__anext__())
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    hub.publish(video[0])
    assert sub.poll() is video[0]
    waiter = asyncio.create_task(sub.__anext__())
    await asyncio.sleep(0)
    hub.publish(video[1])
    hub.publish(video[2])
    assert await asyncio.wait_for(waiter, 1) is video[1]
    assert sub.delivered == 2
    assert sub.queued == 1
    hub.close()
    assert [s async for s in sub] == [video[2]]


async def test_wait_keyframe() -> None:
    video = samples(frames=2)
    hub = StreamHub()
    waiter = asyncio.create_task(hub.wait_keyframe())
    await asyncio.sleep(0)
    hub.publish(video[0])
    assert await asyncio.wait_for(waiter, 1) is video[0]
    other = StreamHub()
    pending = asyncio.create_task(other.wait_keyframe())
    await asyncio.sleep(0)
    other.close()
    with pytest.raises(StreamClosedError):
        await asyncio.wait_for(pending, 1)
