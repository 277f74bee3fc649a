"""Live video of a simulated device (GB/T 28181 §9.2): an H.264 test pattern as PS over RTP/UDP.

A 2 s clip (50 frames at 25 fps, GOP 25) is encoded once per resolution with PyAV/libx264 in
a worker thread, then replayed in a loop with rewritten timestamps, so a thousand streams
cost one encode. The pattern is moving colour bars, a bouncing block and the channel's last
four digits in block figures (the clip is cached per resolution and channel suffix), and a
seconds/frame counter of the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import threading
from fractions import Fraction

import av
import numpy as np

from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.samples import Codec, Sample

FPS = 25
CLIP_FRAMES = 50
FRAME_90K = 90_000 // FPS

# 3×5 block figures, one string of 15 cells per digit
_DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)
_BARS = np.array(
    [
        (235, 235, 235),
        (235, 235, 16),
        (16, 235, 235),
        (16, 235, 16),
        (235, 16, 235),
        (235, 16, 16),
        (16, 16, 235),
        (16, 16, 16),
    ],
    dtype=np.uint8,
)

Clip = tuple[tuple[bytes, bool], ...]  # (Annex-B access unit, keyframe)
_lock = threading.Lock()


def _draw_text(image: np.ndarray, text: str, x: int, y: int, cell: int) -> None:
    for offset, char in enumerate(text):
        if not char.isdigit():
            continue
        pattern = _DIGITS[int(char)]
        left = x + offset * 4 * cell
        for i, bit in enumerate(pattern):
            if bit == "1":
                row, col = divmod(i, 3)
                top = y + row * cell
                image[top : top + cell, left + col * cell : left + (col + 1) * cell] = 255


def render_frame(index: int, width: int, height: int, label: str) -> np.ndarray:
    """One RGB frame of the pattern (cheap numpy only)."""
    columns = (np.arange(width) * len(_BARS) // width + index // 5) % len(_BARS)
    image = np.broadcast_to(_BARS[columns], (height, width, 3)).copy()
    size = max(height // 8, 8)
    span = max(width - size, 1)
    pos = (index * 8) % (2 * span)
    left = pos if pos < span else 2 * span - pos
    top = height // 2 - size // 2
    image[top : top + size, left : left + size] = (255, 128, 0)
    cell = max(height // 40, 2)
    _draw_text(image, label, cell * 2, cell * 2, cell)
    _draw_text(image, f"{index // FPS:02d}{index % FPS:02d}", cell * 2, height - cell * 8, cell)
    return image


@functools.lru_cache(maxsize=64)
def _encode_clip(width: int, height: int, label: str) -> Clip:
    codec = av.CodecContext.create("libx264", "w")
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
        "x264-params": f"keyint={FPS}:min-keyint={FPS}:scenecut=0:repeat-headers=1",
    }
    out: list[tuple[bytes, bool]] = []
    for index in range(CLIP_FRAMES):
        frame = av.VideoFrame.from_ndarray(render_frame(index, width, height, label), "rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = index
        out.extend((bytes(p), bool(p.is_keyframe)) for p in codec.encode(frame))
    out.extend((bytes(p), bool(p.is_keyframe)) for p in codec.encode(None))
    return tuple(out)


def encode_clip(width: int, height: int, label: str = "") -> Clip:
    """The looping clip for a resolution (cached; thread-safe)."""
    with _lock:
        return _encode_clip(width, height, label[-4:])


class VideoSender:
    """Streams the clip as PS/RTP to ``target`` with ``ssrc`` until :meth:`stop`."""

    def __init__(
        self, target: tuple[str, int], ssrc: int, *, width: int, height: int, label: str
    ) -> None:
        self.target = target
        self.ssrc = ssrc
        self.width = width
        self.height = height
        self.label = label
        self.packets_sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        clip = await asyncio.to_thread(encode_clip, self.width, self.height, self.label)
        if not clip:
            return
        family = socket.AF_INET6 if ":" in self.target[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        muxer = PsMuxer(Codec.H264)
        packetizer = RtpPacketizer(self.ssrc)
        loop = asyncio.get_running_loop()
        start = loop.time()
        index = 0
        try:
            while True:
                data, key = clip[index % len(clip)]
                ts = 90_000 + index * FRAME_90K
                pack = muxer.mux(Sample(Codec.H264, ts, ts, key, data))
                for packet in packetizer.packetize(pack, ts):
                    with contextlib.suppress(OSError):  # full buffer or unreachable: lost
                        sock.sendto(packet, self.target)
                    self.packets_sent += 1
                index += 1
                delay = start + index / FPS - loop.time()
                await asyncio.sleep(max(delay, 0.0))
        finally:
            sock.close()
