"""Live video of a simulated device (GB/T 28181 §9.2): an H.264 or H.265 test pattern as PS
over RTP (UDP, or TCP either way round: :mod:`vigil.sim.rtp_link`).

A 2 s clip (50 frames at 25 fps, GOP 25) is encoded once per resolution and codec with
PyAV/libx264 or libx265 in a worker thread, then replayed in a loop with rewritten
timestamps, so a thousand streams cost one encode. The picture (:mod:`vigil.sim.pattern`) is
the home view of a virtual scene under an OSD: a bouncing block, the channel's last four
digits in block figures (the clip is cached per resolution and channel suffix) and a
seconds/frame counter of the loop. A PTZ channel that has been steered gets its own frames
(:mod:`vigil.sim.steered_video`); at home it replays the shared clip too.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from fractions import Fraction

import av
from av.video.codeccontext import VideoCodecContext

from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.samples import Codec, Sample
from vigil.sim.frame_numbers import number_frame
from vigil.sim.pattern import FPS, render_frame
from vigil.sim.ptz_head import PtzHead
from vigil.sim.rtp_link import RtpLink, RtpRole
from vigil.sim.steered_video import CLIP_FRAMES, SteeredVideo

__all__ = ["CLIP_FRAMES", "FPS", "Clip", "VideoSender", "encode_clip", "render_frame"]

FRAME_90K = 90_000 // FPS

Clip = tuple[tuple[bytes, bool], ...]  # (Annex-B access unit, keyframe)
_lock = threading.Lock()


# GOP of one second, no B-frames, parameter sets before every keyframe (a viewer joining
# mid-stream can decode); x265 with closed GOPs so its keyframes are IDR pictures.
_ENCODERS = {
    Codec.H264: (
        "libx264",
        "x264-params",
        f"keyint={FPS}:min-keyint={FPS}:scenecut=0:repeat-headers=1",
    ),
    Codec.H265: (
        "libx265",
        "x265-params",
        f"keyint={FPS}:min-keyint={FPS}:scenecut=0:repeat-headers=1:bframes=0:open-gop=0"
        ":log-level=error",
    ),
}


def new_encoder(width: int, height: int, video_codec: Codec = Codec.H264) -> VideoCodecContext:
    """An encoder with the clip's settings (also used live for steered PTZ channels)."""
    encoder, params_option, params = _ENCODERS[video_codec]
    codec = av.CodecContext.create(encoder, "w")
    assert isinstance(codec, VideoCodecContext)
    codec.width = width
    codec.height = height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, FPS)
    codec.framerate = Fraction(FPS, 1)
    codec.gop_size = FPS
    codec.max_b_frames = 0
    codec.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        params_option: params,
    }
    return codec


@functools.lru_cache(maxsize=64)
def _encode_clip(width: int, height: int, label: str, video_codec: Codec = Codec.H264) -> Clip:
    codec = new_encoder(width, height, video_codec)
    out: list[tuple[bytes, bool]] = []
    for index in range(CLIP_FRAMES):
        frame = av.VideoFrame.from_ndarray(render_frame(index, width, height, label), "rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = index
        out.extend((bytes(p), bool(p.is_keyframe)) for p in codec.encode(frame))
    out.extend((bytes(p), bool(p.is_keyframe)) for p in codec.encode(None))
    return tuple(out)


def encode_clip(width: int, height: int, label: str = "", video_codec: Codec = Codec.H264) -> Clip:
    """The looping clip for a resolution and codec (cached; thread-safe)."""
    with _lock:
        return _encode_clip(width, height, label[-4:], video_codec)


class VideoSender:
    """Streams the clip as PS/RTP to ``target`` with ``ssrc`` until :meth:`stop`; with
    ``ptz``, the picture follows that PTZ head (:class:`SteeredVideo`); with
    ``frame_numbers``, every frame carries its number (:mod:`vigil.sim.frame_numbers`).
    ``frames_sent`` counts the frames handed to the link: frame numbers below it are sent."""

    def __init__(
        self,
        target: tuple[str, int],
        ssrc: int,
        *,
        width: int,
        height: int,
        label: str,
        role: RtpRole = "udp",
        video_codec: Codec = Codec.H264,
        ptz: PtzHead | None = None,
        frame_numbers: bool = False,
    ) -> None:
        self.target = target
        self.ptz = ptz
        self.steering: SteeredVideo | None = None
        self.ssrc = ssrc
        self.width = width
        self.height = height
        self.label = label
        self.video_codec = video_codec
        self.link = RtpLink(target, role)
        self.frame_numbers = frame_numbers
        self.packets_sent = 0
        self.frames_sent = 0
        self._task: asyncio.Task[None] | None = None

    def bind(self, host: str = "") -> tuple[str, int]:
        """Bind the sending socket now: the address to name in the SDP answer."""
        return self.link.bind(host)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.link.close()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        codec = self.video_codec
        clip = await asyncio.to_thread(encode_clip, self.width, self.height, self.label, codec)
        if not clip:
            return
        link = self.link
        if self.ptz is not None:
            self.steering = SteeredVideo(
                self.ptz, width=self.width, height=self.height, label=self.label,
                video_codec=codec,
                open_encoder=functools.partial(new_encoder, self.width, self.height, codec),
            )  # fmt: skip
        steering = self.steering
        muxer = PsMuxer(codec)  # stream type 0x1B H.264 / 0x24 H.265 in the PSM
        packetizer = RtpPacketizer(self.ssrc)
        loop = asyncio.get_running_loop()
        start = loop.time()
        index = 0
        try:
            while True:
                if steering is None:
                    data, key = clip[index % len(clip)]
                else:
                    data, key = await steering.frame(index, clip)
                if self.frame_numbers:
                    data = number_frame(data, codec, self.ssrc, index)
                ts = 90_000 + index * FRAME_90K
                pack = muxer.mux(Sample(codec, ts, ts, key, data))
                packets = packetizer.packetize(pack, ts)
                await link.send(packets)  # UDP loss is silent; a broken TCP link raises
                self.packets_sent += len(packets)
                index += 1
                self.frames_sent = index
                delay = start + index / FPS - loop.time()
                await asyncio.sleep(max(delay, 0.0))
        except OSError:
            return  # the platform closed the TCP connection or never connected: stop
        finally:
            link.close()
            if steering is not None:
                steering.close()
