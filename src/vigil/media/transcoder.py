"""H.265 → H.264 for browsers' live view (DESIGN §5: Chromium's MSE plays no H.265).

One :class:`Transcoder` per channel, shared by every viewer that needs it: it subscribes to
the source hub (video only), decodes H.265 and encodes H.264 with libx264
(ultrafast/zerolatency) on a worker thread of its own — PyAV releases the GIL inside
FFmpeg, so the event loop keeps receiving — and publishes into a derived :class:`StreamHub`
that the viewers' live sessions subscribe to. The source hub is not touched: recordings and
snapshots keep the original bitstream.

Keyframes follow the source: a decoded picture of a source keyframe is encoded as an IDR
(a forced I picture with x264's ``forced-idr``), so the derived GOPs match the source's and
a viewer joining starts at the same keyframe. Falling behind never stalls ingest: the
source subscription is bounded, and when the worker lags the hub empties it and resumes at
the next keyframe (its laggard rule), where the decoder starts afresh.

:class:`TranscoderPool` counts viewers per channel: the first H.265 viewer starts the
channel's transcoder, the last one leaving stops it. Its :meth:`~TranscoderPool.run` owns
the transcoders' tasks in one TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from types import TracebackType

import av
from av.video.codeccontext import VideoCodecContext
from av.video.frame import PictureType, VideoFrame

from vigil.media.errors import MediaError, StreamClosedError
from vigil.media.hub import StreamHub
from vigil.media.snapshot import MAX_PIXELS, with_parameter_sets
from vigil.protocols.samples import Codec, ParameterSets, Sample

logger = logging.getLogger(__name__)

TIME_BASE_90K = Fraction(1, 90_000)
DEFAULT_QUEUE_SAMPLES = 50
# x264 inserts its own IDR only past this many frames without a source keyframe.
MAX_KEYINT_FRAMES = 600


class TranscoderUnavailableError(MediaError):
    """The transcoder pool is not running (the platform runs without it)."""


class H265ToH264:
    """Decode H.265 access units and encode them as H.264 (one stream; one thread at a time)."""

    def __init__(self) -> None:
        self._decoder = av.CodecContext.create("hevc", "r")
        self._encoder: VideoCodecContext | None = None
        self._size: tuple[int, int] | None = None
        self._key_pts: set[int] = set()
        self.frames_in = 0
        self.frames_out = 0
        self.decode_errors = 0

    def push(self, sample: Sample, params: ParameterSets | None) -> list[Sample]:
        """The H.264 samples for one H.265 access unit (none while the decoder fills)."""
        self.frames_in += 1
        # A keyframe may come without in-band VPS/SPS/PPS; repeats are harmless.
        data = with_parameter_sets(sample, params) if sample.is_key else sample.data
        packet = av.Packet(data)
        packet.pts = sample.pts_90k
        packet.dts = sample.dts_90k
        packet.time_base = TIME_BASE_90K
        if sample.is_key:
            self._key_pts.add(sample.pts_90k)
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError:  # e.g. a delta whose reference was skipped: wait for a key
            self.decode_errors += 1
            return []
        out: list[Sample] = []
        for frame in frames:
            assert isinstance(frame, VideoFrame)
            out.extend(self._encode(frame, sample.pts_90k))
        return out

    def _encode(self, frame: VideoFrame, fallback_pts_90k: int) -> list[Sample]:
        pts = frame.pts if frame.pts is not None else fallback_pts_90k
        is_key = pts in self._key_pts
        self._key_pts.discard(pts)
        if len(self._key_pts) > 64:  # keyframes the decoder never returned
            self._key_pts.clear()
        size = (frame.width, frame.height)
        if size[0] * size[1] > MAX_PIXELS:
            return []
        if self._encoder is None or size != self._size:
            if not is_key:
                return []  # a new encoder starts with an IDR picture
            self._encoder = _h264_encoder(*size)
            self._size = size
        if frame.format.name != "yuv420p":
            frame = frame.reformat(format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE_90K
        frame.pict_type = PictureType.I if is_key else PictureType.NONE
        out = []
        for packet in self._encoder.encode(frame):
            packet_pts = packet.pts if packet.pts is not None else pts
            packet_dts = packet.dts if packet.dts is not None else packet_pts
            out.append(
                Sample(Codec.H264, packet_pts, packet_dts, bool(packet.is_keyframe), bytes(packet))
            )
        self.frames_out += len(out)
        return out


def _h264_encoder(width: int, height: int) -> VideoCodecContext:
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, VideoCodecContext)
    encoder.width = width - width % 2
    encoder.height = height - height % 2
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = TIME_BASE_90K
    encoder.max_b_frames = 0
    encoder.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "forced-idr": "1",  # a forced I picture becomes an IDR: GOPs follow the source
        # SPS/PPS before every IDR: a viewer joining at any keyframe can decode.
        "x264-params": f"keyint={MAX_KEYINT_FRAMES}:scenecut=0:repeat-headers=1",
    }
    return encoder


class Transcoder:
    """One channel's transcode: the source subscription, a worker thread, a derived hub."""

    def __init__(self, key: str, source: StreamHub, *, queue_samples: int) -> None:
        self.key = key
        self.source = source
        self.queue_samples = queue_samples
        self.hub = StreamHub(
            gop_max_bytes=source.gop_max_bytes,
            gop_max_samples=source.gop_max_samples,
            queue_max_samples=source.queue_max_samples,
            queue_max_bytes=source.queue_max_bytes,
        )
        self.codec = H265ToH264()
        self.viewers = 0
        self.skipped_samples = 0
        self.task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"h265-{key}")

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def run(self) -> None:
        """Feed the worker until the source ends or the task is cancelled."""
        loop = asyncio.get_running_loop()
        try:
            subscription = self.source.subscribe(video_only=True, max_samples=self.queue_samples)
        except StreamClosedError:
            self.hub.close()
            self._executor.shutdown(wait=False)
            return
        try:
            async for sample in subscription:
                if sample.codec is not Codec.H265:
                    self.hub.publish(sample)  # the source switched to H.264: pass it on
                    continue
                params = self.source.parameter_sets
                outputs = await loop.run_in_executor(
                    self._executor, self.codec.push, sample, params
                )
                for output in outputs:
                    self.hub.publish(output)
        finally:
            self.skipped_samples = subscription.skipped_samples
            subscription.close()
            self.hub.close()
            # The thread finishes the access unit in hand, then exits.
            self._executor.shutdown(wait=False, cancel_futures=True)


class TranscodeLease:
    """A viewer's hold on a channel's transcoder; :meth:`release` (or ``with``) when done."""

    def __init__(self, pool: TranscoderPool, transcoder: Transcoder) -> None:
        self._pool = pool
        self.transcoder = transcoder
        self.released = False

    @property
    def hub(self) -> StreamHub:
        return self.transcoder.hub

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._pool._release(self.transcoder)

    def __enter__(self) -> TranscodeLease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class TranscoderPool:
    """Transcoders by channel, started by the first viewer and stopped with the last."""

    def __init__(self, *, queue_samples: int = DEFAULT_QUEUE_SAMPLES) -> None:
        self.queue_samples = queue_samples
        self._by_key: dict[str, Transcoder] = {}
        self._group: asyncio.TaskGroup | None = None
        self._stop = asyncio.Event()
        self.started = 0

    @property
    def active(self) -> int:
        return len(self._by_key)

    def get(self, key: str) -> Transcoder | None:
        return self._by_key.get(key)

    async def run(self) -> None:
        """Own the transcoders' tasks until :meth:`stop` or cancellation."""
        self._stop.clear()
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                await self._stop.wait()
                for transcoder in list(self._by_key.values()):
                    self._end(transcoder)
        finally:
            self._group = None
            self._by_key.clear()

    def stop(self) -> None:
        self._stop.set()

    def acquire(self, key: str, source: StreamHub) -> TranscodeLease:
        """A lease on the channel's transcoder of ``source``, starting it if needed."""
        group = self._group
        if group is None:
            raise TranscoderUnavailableError("the transcoder pool is not running")
        transcoder = self._by_key.get(key)
        if transcoder is not None and (transcoder.source is not source or transcoder.hub.closed):
            self._end(transcoder)  # a new play of the channel, or the old one ended
            transcoder = None
        if transcoder is None:
            transcoder = Transcoder(key, source, queue_samples=self.queue_samples)
            transcoder.task = group.create_task(self._supervised(transcoder))
            self._by_key[key] = transcoder
            self.started += 1
            logger.info("transcoding %s from H.265 to H.264 for live view", key)
        transcoder.viewers += 1
        return TranscodeLease(self, transcoder)

    async def _supervised(self, transcoder: Transcoder) -> None:
        try:
            await transcoder.run()
        except Exception:  # supervision boundary: one channel's failure ends only its view
            logger.exception("transcoder of %s failed", transcoder.key)

    def _release(self, transcoder: Transcoder) -> None:
        transcoder.viewers -= 1
        if transcoder.viewers <= 0:
            self._end(transcoder)

    def _end(self, transcoder: Transcoder) -> None:
        if self._by_key.get(transcoder.key) is transcoder:
            del self._by_key[transcoder.key]
            logger.info("stopped transcoding %s", transcoder.key)
        if transcoder.task is not None:
            transcoder.task.cancel()
        transcoder.hub.close()
