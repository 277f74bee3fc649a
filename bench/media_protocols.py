"""Throughput of the pure media pipeline: RTP parse → reorder → PS demux → fMP4 fragments.

A synthetic 2 Mbit/s, 25 fps H.264 stream (1280x720 parameter sets from libx264 via PyAV,
one 60 KB IDR every 2 s, P-frames filling the rest of the bit budget) is muxed into
GB/T 28181-style PS, packetised into ≤1400-byte RTP payloads, then pushed through each
stage. Prints packets/s and the real-time factor, i.e. how many such streams one core
could carry. Run: ``.venv/bin/python bench/media_protocols.py [seconds]``.
"""

from __future__ import annotations

import cProfile
import pstats
import random
import sys
import time
from collections.abc import Callable
from fractions import Fraction

import av
import numpy as np

from vigil.protocols.fmp4.writer import Fmp4Writer, FragmentMode
from vigil.protocols.h264.annexb import split_nal_units
from vigil.protocols.ps.demuxer import PsDemuxer
from vigil.protocols.ps.muxer import PsMuxer
from vigil.protocols.rtp.packet import RtpPacket
from vigil.protocols.rtp.packetizer import RtpPacketizer
from vigil.protocols.rtp.reorder import Reorderer
from vigil.protocols.samples import Codec, Sample

FPS = 25
BITRATE = 2_000_000
GOP = 50
IDR_BYTES = 60_000


def parameter_sets() -> tuple[bytes, bytes]:
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 1280, 720, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.options = {"preset": "ultrafast", "tune": "zerolatency"}
    frame = av.VideoFrame.from_ndarray(np.zeros((720, 1280, 3), np.uint8), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    frame.pts = 0
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    nals = split_nal_units(bytes(packets[0]))
    return next(n for n in nals if n[0] & 0x1F == 7), next(n for n in nals if n[0] & 0x1F == 8)


def nal(kind: int, size: int, rnd: random.Random) -> bytes:
    body = rnd.randbytes(size).replace(b"\x00", b"\x01")  # no start-code emulation
    return b"\x00\x00\x00\x01" + bytes((0x60 | kind, 0x88)) + body


def make_stream(seconds: int) -> tuple[list[bytes], int]:
    sps, pps = parameter_sets()
    rnd = random.Random(0)
    per_second = BITRATE // 8
    p_bytes = (per_second * GOP // FPS - IDR_BYTES) // (GOP - 1)
    muxer = PsMuxer(Codec.H264)
    packetizer = RtpPacketizer(0x0BEBC201)
    p_frames = [nal(1, p_bytes, rnd) for _ in range(8)]
    idr = nal(5, IDR_BYTES, rnd)
    datagrams: list[bytes] = []
    total = 0
    for i in range(seconds * FPS):
        pts = i * 3600
        if i % GOP == 0:
            data = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01" + pps + idr
        else:
            data = p_frames[i % 8]
        total += len(data)
        ps = muxer.mux(Sample(Codec.H264, pts, pts, i % GOP == 0, data))
        datagrams += packetizer.packetize(ps, pts)
    return datagrams, total


def stage_parse(datagrams: list[bytes]) -> None:
    parse = RtpPacket.parse
    for d in datagrams:
        parse(d)


def stage_reorder(datagrams: list[bytes]) -> None:
    parse = RtpPacket.parse
    reorder = Reorderer()
    for i, d in enumerate(datagrams):
        reorder.push(parse(d), i * 500)


def stage_demux(datagrams: list[bytes]) -> None:
    parse = RtpPacket.parse
    reorder = Reorderer()
    demuxer = PsDemuxer()
    for i, d in enumerate(datagrams):
        for p in reorder.push(parse(d), i * 500):
            demuxer.push(p.payload, end_of_frame=p.marker)


def full(mode: FragmentMode) -> Callable[[list[bytes]], None]:
    def run(datagrams: list[bytes]) -> None:
        parse = RtpPacket.parse
        reorder = Reorderer()
        demuxer = PsDemuxer()
        writer = Fmp4Writer(mode)
        for i, d in enumerate(datagrams):
            for p in reorder.push(parse(d), i * 500):
                for sample in demuxer.push(p.payload, end_of_frame=p.marker):
                    writer.push(sample)

    return run


def measure(fn: Callable[[list[bytes]], None], datagrams: list[bytes], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn(datagrams)
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    datagrams, es_bytes = make_stream(seconds)
    print(f"stream: {seconds} s, 25 fps, {es_bytes * 8 / seconds / 1e6:.2f} Mbit/s ES, "
          f"{len(datagrams)} RTP packets ({len(datagrams) / seconds:.0f}/s)")  # fmt: skip
    stages = [
        ("RTP parse", stage_parse),
        ("+ reorder", stage_reorder),
        ("+ PS demux", stage_demux),
        ("+ fMP4 per frame (live)", full(FragmentMode.FRAME)),
        ("+ fMP4 per GOP (recording)", full(FragmentMode.GOP)),
    ]
    for name, fn in stages:
        cpu = measure(fn, datagrams)
        rtf = seconds / cpu
        print(f"{name:28s} {len(datagrams) / cpu:>10,.0f} packets/s  "
              f"{cpu / seconds * 1e3:6.2f} ms CPU per stream-second  "
              f"≈ {rtf:,.0f} streams per core")  # fmt: skip
    if "--profile" in sys.argv:
        profiler = cProfile.Profile()
        profiler.runcall(full(FragmentMode.FRAME), datagrams)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
