"""CPU per video frame of the live ingest path that stays in Python, without any I/O.

The stream of bench/media.py (1280x720 H.264 at 2 Mbit/s, 25 fps, an IDR every 50 frames,
one PS pack per frame) is muxed once, then timed with ``time.process_time`` over many
repetitions — no sockets, no RTP, no sender process:

(a) demux: ``PsDemuxer.push(frame, end_of_frame=True)`` per frame (what ``PsIngest`` does
    once a frame's payloads are joined);
(b) fan-out: ``StreamHub.publish`` of the demuxed samples to one ``LiveFmp4Session``
    drained by an asyncio task (as bench/media.py's viewers are), one loop turn per frame;
(c) chain: (a) and (b) together.

(b) and (c) include the event loop's turn per frame (the publisher's ``sleep(0)`` and the
viewer's wake-up), as the media server pays it in its datagram callbacks.

Figures are µs of CPU per frame, median and min over the repetitions. ``--ref-src DIR``
times another source tree (e.g. a copy of ``src`` taken before a change) in alternating
subprocesses, so both are measured under the same load, and checks that both produce the
same samples and fMP4 bytes (a digest of each)::

    .venv/bin/python bench/ingest_frames.py [--rounds 5] [--ref-src /tmp/ref_src]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import media as live_bench  # noqa: E402 - the stream of bench/media.py

SCRIPT = os.path.abspath(__file__)
FRAME_90K = 90000 // live_bench.FPS
CLIP_CACHE = Path(tempfile.gettempdir()) / "vigil-bench-ingest-clip.pickle"


def load_clip() -> list[tuple[bool, bytes]]:
    """bench/media.py's clip, encoded once and cached (encoding takes a few seconds)."""
    if CLIP_CACHE.exists():
        clip: list[tuple[bool, bytes]] = pickle.loads(CLIP_CACHE.read_bytes())  # noqa: S301 - our own file
        return clip
    clip = live_bench.make_clip()
    CLIP_CACHE.write_bytes(pickle.dumps(clip))
    return clip


def ps_frames(clip: list[tuple[bool, bytes]], loops: int) -> list[bytes]:
    """One PS pack per frame, timestamps running on over ``loops`` passes of the clip."""
    from vigil.protocols.ps.muxer import PsMuxer
    from vigil.protocols.samples import Codec, Sample

    muxer = PsMuxer(Codec.H264)
    frames = []
    for i in range(loops * len(clip)):
        is_key, data = clip[i % len(clip)]
        pts = 90000 + i * FRAME_90K
        frames.append(muxer.mux(Sample(Codec.H264, pts, pts, is_key, data)))
    return frames


def time_demux(frames: list[bytes]) -> float:
    from vigil.protocols.ps.demuxer import PsDemuxer

    demuxer = PsDemuxer()
    push = demuxer.push
    start = time.process_time()
    for frame in frames:
        push(frame, end_of_frame=True)
    return time.process_time() - start


async def _fan_out(
    frames: list[bytes] | None, samples: list[Any], sink: list[bytes] | None = None
) -> float:
    """Publish to one live session; with ``frames`` the demuxer produces the samples.

    The viewer drops its messages (as one that sends them does) unless ``sink`` keeps them:
    keeping megabytes of them would time page faults on fresh memory, not our code.
    """
    from vigil.media.hub import StreamHub
    from vigil.media.live import LiveFmp4Session
    from vigil.protocols.ps.demuxer import PsDemuxer

    hub = StreamHub()
    session = LiveFmp4Session.open(hub)

    async def drain() -> None:
        async for message in session:
            if sink is not None:
                sink.append(message)

    async with asyncio.TaskGroup() as group:
        group.create_task(drain())
        await asyncio.sleep(0)  # the viewer waits for its first sample, as a live one does
        publish = hub.publish
        start = time.process_time()
        if frames is None:
            for sample in samples:
                publish(sample)
                await asyncio.sleep(0)  # one loop turn per frame: the viewer runs
        else:
            push = PsDemuxer().push
            for frame in frames:
                for sample in push(frame, end_of_frame=True):
                    publish(sample)
                await asyncio.sleep(0)
        elapsed = time.process_time() - start
        hub.close()
    return elapsed


def digest(frames: list[bytes]) -> dict[str, str]:
    """Fingerprints of the samples and of the fMP4 messages, to compare implementations."""
    from vigil.protocols.ps.demuxer import PsDemuxer

    demuxer = PsDemuxer()
    samples_hash = hashlib.sha256()
    samples = []
    for frame in frames:
        for s in demuxer.push(frame, end_of_frame=True):
            samples.append(s)
            samples_hash.update(repr((s.codec.value, s.pts_90k, s.dts_90k, s.is_key)).encode())
            samples_hash.update(s.data)
    sink: list[bytes] = []
    asyncio.run(_fan_out(None, samples, sink))
    fmp4_hash = hashlib.sha256(b"".join(sink))
    return {"samples": samples_hash.hexdigest()[:16], "fmp4": fmp4_hash.hexdigest()[:16]}


def worker(args: argparse.Namespace) -> None:
    """One measurement round (in a subprocess): JSON figures on stdout."""
    if args.src:
        sys.path.insert(0, args.src)
    import vigil

    assert args.src is None or Path(vigil.__file__).is_relative_to(args.src), vigil.__file__
    from vigil.protocols.ps.demuxer import PsDemuxer

    frames = ps_frames(load_clip(), args.loops)
    samples = [s for f in frames for s in PsDemuxer().push(f, end_of_frame=True)]
    n = len(frames)
    result: dict[str, Any] = {"frames": n, "digest": digest(frames)}
    runs: dict[str, list[float]] = {"demux": [], "fan_out": [], "chain": []}
    for _ in range(args.reps):
        runs["demux"].append(time_demux(frames) / n * 1e6)
        runs["fan_out"].append(asyncio.run(_fan_out(None, samples)) / n * 1e6)
        runs["chain"].append(asyncio.run(_fan_out(frames, [])) / n * 1e6)
    result["us_per_frame"] = runs
    print(json.dumps(result))


def run_round(src: str | None, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, SCRIPT, "--role", "worker", "--reps", str(args.reps)]
    command += ["--loops", str(args.loops)]
    if src:
        command += ["--src", src]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--role", default="main", choices=["main", "worker"])
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--ref-src", help="another source tree to compare with")
    parser.add_argument("--rounds", type=int, default=5, help="subprocesses per tree")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per subprocess")
    parser.add_argument("--loops", type=int, default=4, help="passes over the 100-frame clip")
    args = parser.parse_args()
    if args.role == "worker":
        worker(args)
        return
    load_clip()  # encode once, before the rounds
    trees = {"current": None} | ({"reference": args.ref_src} if args.ref_src else {})
    runs: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    digests: dict[str, set[str]] = {name: set() for name in trees}
    for _ in range(args.rounds):
        for name, src in trees.items():  # alternate: both see the same load
            result = run_round(src, args)
            digests[name].add(json.dumps(result["digest"], sort_keys=True))
            for stage, values in result["us_per_frame"].items():
                runs[name].setdefault(stage, []).extend(values)
    print(f"{args.rounds} rounds x {args.reps} reps x {args.loops * 100} frames; µs CPU/frame")
    print(f"{'tree':<10} {'stage':<8} {'median':>8} {'min':>8}")
    for name, stages in runs.items():
        for stage, values in stages.items():
            print(f"{name:<10} {stage:<8} {statistics.median(values):8.1f} {min(values):8.1f}")
    for name, found in digests.items():
        print(f"{name:<10} digest {' | '.join(sorted(found))}")
    if args.ref_src:
        same = digests["current"] == digests["reference"]
        print("outputs identical" if same else "OUTPUTS DIFFER")


if __name__ == "__main__":
    main()
