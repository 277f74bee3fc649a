"""Per-stream fan-out of samples: a GOP cache and bounded subscriber queues (DESIGN §5).

The receive path calls :meth:`StreamHub.publish` synchronously for every sample; it never
waits for a consumer. Each :class:`Subscription` has its own bounded queue (samples and
bytes). A new subscriber first gets the cached group of pictures — the samples from the
last keyframe on — so its first frame is decodable. A subscriber whose queue is full is a
laggard: its queue is emptied and it is switched to "skip until the next keyframe" (deltas
are dropped, counted, and delivery resumes at a keyframe), so it can never stall ingest or
the other subscribers, and its latency is bounded by the queue.

The GOP cache is bounded by bytes and count; a GOP longer than that is not cached (new
subscribers then wait for the next keyframe). The latest keyframe is always kept for
snapshots, together with the parameter sets last seen in the stream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from types import TracebackType

from vigil.media.errors import StreamClosedError
from vigil.protocols.samples import ParameterSets, Sample

logger = logging.getLogger(__name__)

DEFAULT_GOP_MAX_BYTES = 16 * 1024 * 1024
DEFAULT_GOP_MAX_SAMPLES = 500
DEFAULT_QUEUE_SAMPLES = 100
DEFAULT_QUEUE_BYTES = 16 * 1024 * 1024


class Subscription:
    """One consumer's view of a hub: ``async for sample in subscription``.

    Iteration ends when the consumer calls :meth:`close` (at once) or the hub is closed
    (after the queued samples). Usable as an async context manager that closes it.
    """

    __slots__ = (
        "_closed",
        "_ended",
        "_hub",
        "_limit_bytes",
        "_limit_samples",
        "_queue",
        "_queued_bytes",
        "_waiter",
        "_waiting_key",
        "delivered",
        "skipped_samples",
        "skips",
        "video_only",
    )

    def __init__(
        self,
        hub: StreamHub,
        *,
        video_only: bool,
        max_samples: int,
        max_bytes: int,
        initial: list[Sample] | None,
    ) -> None:
        self._hub = hub
        self.video_only = video_only
        self._queue: deque[Sample] = deque()
        self._queued_bytes = 0
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False  # by the consumer: stop now
        self._ended = False  # by the hub: stop after the queue
        self.delivered = 0
        self.skipped_samples = 0
        self.skips = 0
        burst = [s for s in initial or () if not video_only or s.codec.is_video]
        self._queue.extend(burst)
        self._queued_bytes = sum(len(s.data) for s in burst)
        # The cached GOP comes on top of the regular bound: both are bounded.
        self._limit_samples = max_samples + len(burst)
        self._limit_bytes = max_bytes + self._queued_bytes
        self._waiting_key = not burst

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed or (self._ended and not self._queue)

    @property
    def ended(self) -> bool:
        """The hub closed (the stream ended), as opposed to the consumer closing."""
        return self._ended and not self._closed

    def _offer(self, sample: Sample, is_video: bool) -> None:
        """Called by the hub for each published sample: enqueue, or skip when lagging."""
        if self.video_only and not is_video:
            return
        queue = self._queue
        size = len(sample.data)
        if self._waiting_key:
            if not (is_video and sample.is_key):
                self.skipped_samples += 1
                return
            self._waiting_key = False
        elif len(queue) >= self._limit_samples or (
            self._queued_bytes + size > self._limit_bytes and queue
        ):
            self.skips += 1
            self._hub.gop_skips += 1
            self.skipped_samples += len(queue)
            queue.clear()
            self._queued_bytes = 0
            if not (is_video and sample.is_key):
                self.skipped_samples += 1
                self._waiting_key = True
                return
        queue.append(sample)
        self._queued_bytes += size
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None  # woken once: the consumer makes a new one when it waits
            if not waiter.done():
                waiter.set_result(None)

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def close(self) -> None:
        """Stop receiving; queued samples are discarded. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._queued_bytes = 0
        self._hub._remove(self)
        self._wake()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Sample:
        while True:
            if self._closed:
                raise StopAsyncIteration
            queue = self._queue
            if queue:  # poll(), inlined: once per sample
                sample = queue.popleft()
                self._queued_bytes -= len(sample.data)
                self.delivered += 1
                return sample
            if self._ended:
                raise StopAsyncIteration
            await self.changed()

    # poll() and changed() are __anext__ in two halves, for a consumer that runs once per
    # sample (live view): it awaits the future itself, without a coroutine per sample.

    def poll(self) -> Sample | None:
        """The next queued sample, or None: then the iteration is over (``closed``, or
        ``ended`` with nothing left) or the consumer should await :meth:`changed`."""
        if self._closed:
            return None
        queue = self._queue
        if not queue:
            return None
        sample = queue.popleft()
        self._queued_bytes -= len(sample.data)
        self.delivered += 1
        return sample

    def changed(self) -> asyncio.Future[None]:
        """A future done at the next sample, end or close (one waiting consumer at a time)."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            waiter = self._waiter = asyncio.get_running_loop().create_future()
        return waiter

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class StreamHub:
    """GOP cache plus bounded fan-out for one stream."""

    def __init__(
        self,
        *,
        gop_max_bytes: int = DEFAULT_GOP_MAX_BYTES,
        gop_max_samples: int = DEFAULT_GOP_MAX_SAMPLES,
        queue_max_samples: int = DEFAULT_QUEUE_SAMPLES,
        queue_max_bytes: int = DEFAULT_QUEUE_BYTES,
        on_subscribers_changed: Callable[[int], None] | None = None,
    ) -> None:
        if queue_max_samples < 2:
            raise ValueError("queue_max_samples must be at least 2")
        self.gop_max_bytes = gop_max_bytes
        self.gop_max_samples = gop_max_samples
        self.queue_max_samples = queue_max_samples
        self.queue_max_bytes = queue_max_bytes
        self.on_subscribers_changed = on_subscribers_changed
        self.last_keyframe: Sample | None = None
        self.parameter_sets: ParameterSets | None = None
        self.published = 0
        self.gop_overflows = 0
        self.gop_skips = 0
        self._subscribers: list[Subscription] = []
        self._gop: list[Sample] = []
        self._gop_bytes = 0
        self._gop_valid = False
        self._keyframe_waiters: list[asyncio.Future[Sample]] = []
        self._closed = False

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    @property
    def closed(self) -> bool:
        return self._closed

    def gop(self) -> tuple[Sample, ...]:
        """The cached samples from the last keyframe on (empty when not cacheable)."""
        return tuple(self._gop) if self._gop_valid else ()

    def publish(self, sample: Sample) -> None:
        """Hand a sample to every subscriber; never blocks, never raises for a consumer."""
        if self._closed:
            return
        self.published += 1
        is_video = sample.codec.is_video
        if is_video and sample.is_key:
            self._gop = [sample]
            self._gop_bytes = len(sample.data)
            self._gop_valid = True
            self.last_keyframe = sample
            if self._keyframe_waiters:
                for waiter in self._keyframe_waiters:
                    if not waiter.done():
                        waiter.set_result(sample)
                self._keyframe_waiters.clear()
        elif self._gop_valid:
            size = len(sample.data)
            if (
                len(self._gop) >= self.gop_max_samples
                or self._gop_bytes + size > self.gop_max_bytes
            ):
                self._gop = []
                self._gop_bytes = 0
                self._gop_valid = False
                self.gop_overflows += 1
            else:
                self._gop.append(sample)
                self._gop_bytes += size
        for subscriber in self._subscribers:
            subscriber._offer(sample, is_video)

    def subscribe(
        self,
        *,
        video_only: bool = False,
        max_samples: int | None = None,
        max_bytes: int | None = None,
        from_gop: bool = True,
    ) -> Subscription:
        """A new subscription; with ``from_gop`` it starts with the cached GOP."""
        if self._closed:
            raise StreamClosedError("the stream is closed")
        subscription = Subscription(
            self,
            video_only=video_only,
            max_samples=max(2, max_samples or self.queue_max_samples),
            max_bytes=max_bytes or self.queue_max_bytes,
            initial=list(self._gop) if from_gop and self._gop_valid else None,
        )
        self._subscribers.append(subscription)
        self._notify()
        return subscription

    async def wait_keyframe(self) -> Sample:
        """The latest keyframe, waiting for the first one if none has arrived yet."""
        if self.last_keyframe is not None:
            return self.last_keyframe
        if self._closed:
            raise StreamClosedError("the stream is closed")
        waiter: asyncio.Future[Sample] = asyncio.get_running_loop().create_future()
        self._keyframe_waiters.append(waiter)
        try:
            return await waiter
        finally:
            if waiter in self._keyframe_waiters:
                self._keyframe_waiters.remove(waiter)

    def close(self) -> None:
        """End the stream: subscribers finish their queues, keyframe waiters fail."""
        if self._closed:
            return
        self._closed = True
        for waiter in self._keyframe_waiters:
            if not waiter.done():
                waiter.set_exception(StreamClosedError("the stream closed before a keyframe"))
        self._keyframe_waiters.clear()
        subscribers, self._subscribers = self._subscribers, []
        for subscriber in subscribers:
            subscriber._end()
        self._gop = []
        self._gop_valid = False
        if subscribers:
            self._notify()

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
            self._notify()

    def _notify(self) -> None:
        callback = self.on_subscribers_changed
        if callback is None:
            return
        try:
            callback(len(self._subscribers))
        except Exception:  # the upper layer's callback must not break the data plane
            logger.exception("subscriber-count callback failed")
