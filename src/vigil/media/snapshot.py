"""JPEG snapshots of a stream's latest keyframe (DESIGN §5: hub → snapshot).

The keyframe from the hub, preceded by the stream's parameter sets (a keyframe may come
without in-band SPS/PPS), is decoded with PyAV (FFmpeg) and encoded with FFmpeg's mjpeg
encoder. Decoding is CPU-heavy, so it runs in an executor — by default asyncio's thread
pool: PyAV releases the GIL while FFmpeg decodes and encodes; a ``ProcessPoolExecutor`` can
be passed instead, :func:`render_jpeg` being a plain picklable function. Concurrent renders
are limited, the whole request is bounded by ``timeout_s`` (waiting for a first keyframe
included), the source picture by :data:`MAX_PIXELS`, and the JPEG width by ``max_width``.
The JPEG of a keyframe is cached until the next keyframe arrives.
"""

from __future__ import annotations

import asyncio
import weakref
from concurrent.futures import Executor
from fractions import Fraction
from typing import Literal

import av

from vigil.media.errors import NoKeyframeError, SnapshotDecodeError
from vigil.media.hub import StreamHub
from vigil.protocols.samples import Codec, ParameterSets, Sample
from vigil.settings import MediaSettings

MAX_PIXELS = 8192 * 4320  # 8K: beyond any camera, a bound on decode memory
JPEG_QSCALE = 3  # MJPEG quantiser scale, 2 (best) to 31
Decoder = Literal["h264", "hevc"]
_DECODERS: dict[Codec, Decoder] = {Codec.H264: "h264", Codec.H265: "hevc"}
_START = b"\x00\x00\x00\x01"


def with_parameter_sets(keyframe: Sample, params: ParameterSets | None) -> bytes:
    """The keyframe's Annex-B bytes preceded by VPS/SPS/PPS (repeats are harmless)."""
    if params is None or params.codec is not keyframe.codec:
        return keyframe.data
    head = [params.vps] if params.vps else []
    head += [params.sps, params.pps]
    return b"".join(_START + nal for nal in head) + keyframe.data


def render_jpeg(access_unit: bytes, decoder: Decoder, max_width: int = 0) -> bytes:
    """Decode one keyframe access unit (Annex-B) and encode it as a baseline JPEG."""
    try:
        context = av.CodecContext.create(decoder, "r")
        frames = list(context.decode(av.Packet(access_unit)))
        frames += context.decode(None)
    except av.FFmpegError as exc:
        raise SnapshotDecodeError(f"keyframe does not decode: {exc}") from exc
    if not frames:
        raise SnapshotDecodeError("keyframe produced no picture")
    frame = frames[0]
    width, height = frame.width, frame.height
    if width * height > MAX_PIXELS:
        raise SnapshotDecodeError(f"picture {width}x{height} exceeds the snapshot bound")
    if max_width and width > max_width:
        height = max(2, round(height * max_width / width / 2) * 2)
        width = max_width - max_width % 2
    picture = frame.reformat(width=width, height=height, format="yuvj420p")
    picture.pts = 0
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width = width
    encoder.height = height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    # A fixed quantiser: the default rate control is meant for video, not one picture.
    encoder.options = {"qmin": str(JPEG_QSCALE), "qmax": str(JPEG_QSCALE)}
    packets = list(encoder.encode(picture)) + list(encoder.encode(None))
    if not packets:
        raise SnapshotDecodeError("the JPEG encoder produced nothing")
    return b"".join(bytes(packet) for packet in packets)


class Snapshotter:
    """Produces JPEGs of hubs' latest keyframes with bounded time and concurrency."""

    def __init__(
        self,
        *,
        timeout_s: float = 5.0,
        max_width: int = 0,
        max_concurrent: int = 2,
        executor: Executor | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.max_width = max_width
        self._executor = executor
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self._cache: weakref.WeakKeyDictionary[StreamHub, tuple[Sample, bytes]] = (
            weakref.WeakKeyDictionary()
        )
        self.rendered = 0

    @classmethod
    def from_settings(
        cls, settings: MediaSettings, *, executor: Executor | None = None
    ) -> Snapshotter:
        return cls(
            timeout_s=settings.snapshot_timeout_s,
            max_width=settings.snapshot_max_width,
            executor=executor,
        )

    async def jpeg(self, hub: StreamHub) -> bytes:
        """JPEG of the hub's latest keyframe, waiting for the first one within the bound.

        Raises :class:`NoKeyframeError` when none arrives in time, and
        :class:`SnapshotDecodeError` when the picture cannot be produced in time.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                keyframe = await hub.wait_keyframe()
        except TimeoutError:
            raise NoKeyframeError(f"no keyframe within {self.timeout_s:.1f} s") from None
        cached = self._cache.get(hub)
        if cached is not None and cached[0] is keyframe:
            return cached[1]
        decoder = _DECODERS.get(keyframe.codec)
        if decoder is None:
            raise SnapshotDecodeError(f"cannot decode {keyframe.codec.value}")
        params = hub.parameter_sets
        if params is not None and params.width * params.height > MAX_PIXELS:
            raise SnapshotDecodeError(f"picture {params.width}x{params.height} is too large")
        access_unit = with_parameter_sets(keyframe, params)
        try:
            async with asyncio.timeout_at(deadline), self._semaphore:
                jpeg = await loop.run_in_executor(
                    self._executor, render_jpeg, access_unit, decoder, self.max_width
                )
        except TimeoutError:
            raise SnapshotDecodeError(f"no JPEG within {self.timeout_s:.1f} s") from None
        self.rendered += 1
        self._cache[hub] = (keyframe, jpeg)
        return jpeg
