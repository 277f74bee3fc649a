"""A simulated camera whose every frame shows its own capture time, for glass-to-glass latency.

``StampedVideoSender`` stands in for the simulator's looping clip (``vigil.sim.sim_media``):
it renders each frame when it is due, burns the wall-clock time of that moment into it as
rows of black and white blocks, encodes it on the fly with libx264 (PyAV; zero-latency
tuning, as a camera's encoder), and sends it as PS over RTP through the simulator's link. The
page reads the blocks back from a canvas when the frame is presented, so latency is
display time − capture time on one clock (the machine's).

The stamp: :data:`BITS` blocks of :data:`BLOCK_PX` square, two rows from (:data:`ORIGIN_PX`,
:data:`ORIGIN_PX`); luma 235 is a one, 16 a zero. The first :data:`TIME_BITS` carry the
capture time in ms since the epoch, the rest a check value (:func:`check_bits`), so a
misread frame is rejected rather than counted.
"""

from __future__ import annotations

import asyncio
import time
from fractions import Fraction
from typing import Any

import av
import numpy as np

from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.samples import Codec, Sample
from vigil.sim.sim_media import VideoSender

FPS = 25
FRAME_90K = 90_000 // FPS
GOP_FRAMES = 50  # an IDR every 2 s, a common camera setting
BITRATE_KBPS = 2000
TIME_BITS = 42  # ms since the epoch fit in 42 bits until the year 2109
CHECK_BITS = 6
BITS = TIME_BITS + CHECK_BITS
PER_ROW = BITS // 2
BLOCK_PX = 32
ORIGIN_PX = 32
ONE_LUMA = 235
ZERO_LUMA = 16


def check_bits(value_ms: int) -> int:
    """The check value of a stamp: the 6-bit groups of the time added up, modulo 64."""
    total = 0
    for shift in range(0, TIME_BITS, CHECK_BITS):
        total += (value_ms >> shift) & 0x3F
    return total & 0x3F


def stamp_bits(value_ms: int) -> list[int]:
    """The blocks of a stamp, most significant bit first."""
    word = (value_ms << CHECK_BITS) | check_bits(value_ms)
    return [(word >> (BITS - 1 - i)) & 1 for i in range(BITS)]


def read_stamp(levels: list[float]) -> int | None:
    """The capture time (ms) from the mean levels (0-255) of the blocks, or None if misread."""
    if len(levels) != BITS:
        return None
    word = 0
    for level in levels:
        word = (word << 1) | (1 if level >= 128 else 0)
    value_ms = word >> CHECK_BITS
    return value_ms if check_bits(value_ms) == word & 0x3F else None


def block_origin(index: int) -> tuple[int, int]:
    """(x, y) in pixels of a stamp block's top-left corner."""
    row, column = divmod(index, PER_ROW)
    return ORIGIN_PX + column * BLOCK_PX, ORIGIN_PX + row * BLOCK_PX


def draw_stamp(luma: np.ndarray, value_ms: int) -> None:
    for index, bit in enumerate(stamp_bits(value_ms)):
        x, y = block_origin(index)
        luma[y : y + BLOCK_PX, x : x + BLOCK_PX] = ONE_LUMA if bit else ZERO_LUMA


def make_encoder(width: int, height: int) -> Any:  # av.VideoCodecContext
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, FPS)
    codec.framerate = Fraction(FPS, 1)
    codec.gop_size = GOP_FRAMES
    codec.max_b_frames = 0
    codec.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"bitrate={BITRATE_KBPS}:vbv-maxrate={BITRATE_KBPS}:"
        f"vbv-bufsize={BITRATE_KBPS // 2}:keyint={GOP_FRAMES}:min-keyint={GOP_FRAMES}:"
        "scenecut=0:repeat-headers=1",
    }
    return codec


class StampedVideoSender(VideoSender):
    """The simulator's sender with live-encoded, time-stamped frames (see module docstring).

    It sends through the simulator's own RTP link (UDP or TCP as negotiated); frames are
    rendered and encoded in a worker thread (about 8 ms per 720p frame), so the simulated
    device's SIP handling is not held up by them.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._encoder: Any = None
        self._yuv = np.full((self.height * 3 // 2, self.width), 128, np.uint8)
        x = np.arange(self.width, dtype=np.uint16)[None, :]
        y = np.arange(self.height, dtype=np.uint16)[:, None]
        self._background = ((x + y) // 3 & 255).astype(np.uint8)  # moves: P-frames cost bits

    def _encode(self, index: int) -> list[tuple[bool, bytes]]:
        """Render frame ``index`` stamped with the time now, and encode it."""
        if self._encoder is None:
            self._encoder = make_encoder(self.width, self.height)
        luma = self._yuv[: self.height]
        captured_ms = int(time.time() * 1000)
        luma[:] = np.roll(self._background, index * 4, axis=1)
        draw_stamp(luma, captured_ms)
        frame = av.VideoFrame.from_ndarray(self._yuv, format="yuv420p")
        frame.pts = index
        return [(bool(p.is_keyframe), bytes(p)) for p in self._encoder.encode(frame)]

    async def _run(self) -> None:
        link = self.link
        muxer = PsMuxer(Codec.H264)
        packetizer = RtpPacketizer(self.ssrc)
        loop = asyncio.get_running_loop()
        start = loop.time()
        index = 0
        try:
            while True:
                for key, data in await asyncio.to_thread(self._encode, index):
                    ts = 90_000 + index * FRAME_90K
                    packets = packetizer.packetize(
                        muxer.mux(Sample(Codec.H264, ts, ts, key, data)), ts
                    )
                    await link.send(packets)
                    self.packets_sent += len(packets)
                index += 1
                await asyncio.sleep(max(start + index / FPS - loop.time(), 0.0))
        except OSError:
            return  # the platform closed the TCP connection: stop, as the simulator does
        finally:
            link.close()


def run_simulator(argv: list[str]) -> int:
    """``vigil sim`` with every camera replaced by a time-stamping one."""
    from vigil.sim import sim_requests
    from vigil.sim.main import main as sim_main

    sim_requests.VideoSender = StampedVideoSender  # type: ignore[attr-defined]
    return sim_main(argv)
