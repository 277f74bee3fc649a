"""Test media: short moving test patterns encoded with PyAV (FFmpeg's libx264/libx265).

PyAV is an independent reference here; the code under test never imports it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np


@dataclass(frozen=True)
class EncodedFrame:
    data: bytes  # Annex-B access unit as the encoder produced it
    pts_90k: int
    dts_90k: int
    is_key: bool


def _pattern(width: int, height: int, index: int) -> np.ndarray:
    """A moving gradient with a bouncing bar: cheap, and different on every frame."""
    x = np.arange(width, dtype=np.uint16)[None, :]
    y = np.arange(height, dtype=np.uint16)[:, None]
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (x + 4 * index) & 0xFF
    frame[..., 1] = (y + 2 * index) & 0xFF
    frame[..., 2] = ((x + y) // 2) & 0xFF
    bar = (index * 16) % max(width - 16, 1)
    frame[:, bar : bar + 16, :] = 255
    return frame


@functools.lru_cache(maxsize=16)
def encode_video(
    codec: str = "libx264",
    width: int = 320,
    height: int = 240,
    frames: int = 50,
    fps: int = 25,
    gop: int = 25,
    bframes: int = 0,
    x264_params: str = "",
) -> tuple[EncodedFrame, ...]:
    """Encode ``frames`` frames of the pattern; timestamps in 90 kHz units."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.width = width
    ctx.height = height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, fps)
    ctx.framerate = Fraction(fps, 1)
    ctx.gop_size = gop
    ctx.max_b_frames = bframes
    if codec == "libx265":
        ctx.options = {
            "x265-params": f"keyint={gop}:min-keyint={gop}:bframes={bframes}:log-level=error",
            "preset": "ultrafast",
        }
    else:
        ctx.options = {"preset": "ultrafast", "tune": "zerolatency" if bframes == 0 else "film"}
        if x264_params:
            ctx.options = {**ctx.options, "x264-params": x264_params}
    tick = 90000 // fps
    out: list[EncodedFrame] = []

    def collect(packets: list[av.Packet]) -> None:
        for p in packets:
            pts = int(p.pts) * tick
            dts = int(p.dts if p.dts is not None else p.pts) * tick
            out.append(EncodedFrame(bytes(p), pts, dts, bool(p.is_keyframe)))

    for i in range(frames):
        vf = av.VideoFrame.from_ndarray(_pattern(width, height, i), format="rgb24")
        vf = vf.reformat(format="yuv420p")
        vf.pts = i
        collect(ctx.encode(vf))
    collect(ctx.encode(None))
    return tuple(out)
