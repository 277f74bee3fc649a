"""Export throughput: building an export MP4 from segment byte ranges vs a plain copy.

A 2 s 1280x720 H.264 clip (libx264 via PyAV, 25 fps, ~5 Mbit/s, an IDR every second) is
recorded over and over as one run of 60 s segment files until at least ``--mbytes`` are on
disk (real segment files and index rows, written by ``record_samples``). Then, in the same
process, interleaved round by round:

(a) export: the whole recorded range through ``write_export_file`` — every source file read
    in chunks and its SHA-256 checked against its row, every ``moof`` retimed, the output
    hashed (for the manifest) and written;
(b) copy: the same segment files, read whole as the export reads them, concatenated into
    one file with ``shutil.copyfileobj``;
(c) "copy + 2 SHA-256": the copy hashing every chunk twice in one thread (the two passes a
    verified export cannot avoid, done serially).

Three conditions, each side doing the same fsync (or none) and reading the same bytes:

* cold sources, fsync — the headline: exports run with fsync on (``VIGIL_RECORDING__FSYNC``,
  the default) and mostly read footage old enough to have left the page cache, so the
  sources are evicted before every run of either side;
* warm sources, fsync — footage recorded minutes ago;
* warm sources, no fsync — CPU only: the export does two SHA-256 passes a copy does not, so
  on a machine whose SHA-256 is slower than its memory copies that sets the ratio. The
  ceiling printed is the copy's CPU time per MB over one SHA-256 pass's: the export at its
  best, one pass on each of two idle cores, reading and writing free.

Reported per condition: the median MB/s (source bytes per second) of each side over
``--repeat`` rounds, export/copy as the median of the per-round ratios with their range,
CPU ms per MB, and how many cores the export kept busy (CPU over wall time: below 2, the
machine's other work took the second core its two hashing threads need). Other work moves
single runs a lot; the ratio of runs side by side in one round moves less::

    .venv/bin/python bench/recording_export.py [--mbytes 200] [--repeat 5] [--baseline OLD.py]

``--baseline`` (repeatable) times another copy of ``export_file.py`` in the same rounds,
so a before/after comparison shares the machine's load: e.g. ``git show
HEAD:src/vigil/recording/export_file.py > /tmp/old.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.recording.export_file import write_export_file
from vigil.recording.export_plan import plan_export
from vigil.recording.index import SegmentRow, segments_between
from vigil.recording.segment_writer import clip_samples, record_samples

CHANNEL = "34020000001320000001"
T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
FPS = 25
TARGET_RATIO = 0.8


def encode_clip(width: int = 1280, height: int = 720, frames: int = 50) -> list[tuple[bytes, bool]]:
    """A moving noisy picture, so the encoder spends a realistic few Mbit/s on it."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base, codec.framerate = Fraction(1, FPS), Fraction(FPS, 1)
    codec.gop_size, codec.max_b_frames = FPS, 0
    codec.bit_rate = 4_000_000
    codec.options = {
        "preset": "ultrafast",
        "x264-params": f"keyint={FPS}:scenecut=0:repeat-headers=1",
    }
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    out: list[tuple[bytes, bool]] = []
    for index in range(frames):
        picture = np.roll(base, index * 8, axis=1)
        picture[:: 4 + index % 3] = 128
        frame = av.VideoFrame.from_ndarray(picture, "rgb24").reformat(format="yuv420p")
        frame.pts = index
        out += [(bytes(p), bool(p.is_keyframe)) for p in codec.encode(frame)]
    out += [(bytes(p), bool(p.is_keyframe)) for p in codec.encode(None)]
    return out


async def record(data_dir: Path, mbytes: int) -> tuple[str, list[SegmentRow]]:
    url = f"sqlite+aiosqlite:///{data_dir / 'vigil.db'}"
    await upgrade(url)
    clip = encode_clip()
    clip_bytes = sum(len(unit) for unit, _ in clip)
    frames = int(mbytes * 1_000_000 / clip_bytes * len(clip)) + len(clip)
    engine = create_engine(url)
    try:
        await record_samples(
            engine, "default", data_dir / "pool", CHANNEL, clip_samples(clip, frames=frames),
            start_at=T0, segment_duration_s=60.0, fsync=False,
        )  # fmt: skip
        rows = await segments_between(engine, CHANNEL, T0, T0 + timedelta(days=1))
    finally:
        await engine.dispose()
    return url, rows


def evict(paths: Sequence[Path]) -> None:
    """Drop the files' clean pages from the page cache (no root needed): a cold read."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def warm(paths: Sequence[Path]) -> None:
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while handle.read(1 << 20):
                pass


def copy_files(paths: Sequence[Path], target: Path, *, fsync: bool, hashes: int = 0) -> None:
    """Concatenate ``paths`` into ``target``; ``hashes`` SHA-256 passes over the bytes on
    the way (the reference for the two passes a verified export cannot avoid)."""
    digests = [hashlib.sha256() for _ in range(hashes)]
    with target.open("wb") as out:
        for path in paths:
            with path.open("rb") as source:
                if not digests:
                    shutil.copyfileobj(source, out, 1 << 20)
                    continue
                while chunk := source.read(1 << 20):
                    for digest in digests:
                        digest.update(chunk)
                    out.write(chunk)
        out.flush()
        if fsync:
            os.fsync(out.fileno())


@dataclass
class Timing:
    walls_s: list[float] = field(default_factory=list)
    cpus_s: list[float] = field(default_factory=list)

    def run(self, work: Callable[[], object], output: Path, cold: Sequence[Path] = ()) -> None:
        """Time ``work`` once; its output is removed first (untimed), so no run pays for
        truncating the previous run's file, and ``cold`` files are evicted from the page
        cache."""
        output.unlink(missing_ok=True)
        os.sync()
        evict(cold)
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        self.walls_s.append(time.perf_counter() - wall)
        self.cpus_s.append(time.process_time() - cpu)

    def mb_s(self, mb: float) -> float:
        return mb / statistics.median(self.walls_s)

    def cpu_ms_per_mb(self, mb: float) -> float:
        return statistics.median(self.cpus_s) * 1e3 / mb


def load_exporter(path: Path) -> Callable[..., object]:
    """``write_export_file`` of another copy of export_file.py (e.g. from an older commit)."""
    spec = importlib.util.spec_from_file_location(f"baseline_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    exporter: Callable[..., object] = module.write_export_file
    return exporter


def sha256_mb_s(cpu_s: float = 0.3) -> float:
    """SHA-256 speed of one core over 1 MiB chunks (hashlib, i.e. OpenSSL), per second of
    this thread's CPU time, so other work on the machine does not lower it."""
    chunk, digest, hashed = os.urandom(1 << 20), hashlib.sha256(), 0
    started = time.thread_time()
    while time.thread_time() - started < cpu_s:
        digest.update(chunk)
        hashed += len(chunk)
    return hashed / 1e6 / (time.thread_time() - started)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbytes", type=int, default=200, help="segment bytes to record")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="another export_file.py to time alongside (before/after); repeatable",
    )
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    with tempfile.TemporaryDirectory(prefix="vigil-export-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        _, rows = asyncio.run(record(root, args.mbytes))
        os.sync()  # written without fsync: dirty pages would survive the cold rounds' eviction
        paths = [root / "pool" / row.path for row in rows]
        total = sum(row.size_bytes for row in rows)
        span_s = sum(row.duration_90k for row in rows) / 90_000
        print(f"recorded {len(rows)} segments, {total / 1e6:.0f} MB, {span_s / 60:.1f} min of "
              f"1280x720 video ({total * 8 / span_s / 1e6:.1f} Mbit/s) "
              f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
        plan = plan_export(CHANNEL, rows[0].start_at, rows[-1].end_at, rows)
        pools = {"default": root / "pool"}
        target, copy = root / "export.mp4", root / "copy.bin"
        warm(paths)
        mb = total / 1e6
        sha_mb_s = sha256_mb_s()
        print(f"SHA-256: {sha_mb_s:.0f} MB/s per core; {args.repeat} rounds per condition, "
              "medians (range of the per-round ratio)")  # fmt: skip
        print(f"{'':22}{'export':>10}{'copy':>10}{'export/copy':>20}{'copy+2 SHA-256':>16}"
              f"{'CPU ms/MB export, copy':>26}")  # fmt: skip
        conditions = (("cold sources, fsync", True, paths), ("warm, fsync", True, ()),
                      ("warm, no fsync", False, ()))  # fmt: skip
        exporters = {"export": write_export_file}
        for other in args.baseline:
            exporters[other.stem] = load_exporter(other)
        for label, fsync, cold in conditions:
            exports = {name: Timing() for name in exporters}
            plain, hashed = Timing(), Timing()
            for round_ in range(args.repeat):  # interleaved: no side always gets the warmer cache
                order = list(exporters.items())
                for name, exporter in order[:: -1 if round_ % 2 else 1]:  # neither always first
                    exports[name].run(
                        lambda e=exporter, f=fsync: e(plan, pools, target, fsync=f), target, cold
                    )
                plain.run(lambda f=fsync: copy_files(paths, copy, fsync=f), copy, cold)
                hashed.run(lambda f=fsync: copy_files(paths, copy, fsync=f, hashes=2), copy, cold)
            if cold:
                warm(paths)
            for name, export in exports.items():
                ratios = sorted(c / e for c, e in zip(plain.walls_s, export.walls_s, strict=True))
                ratio = statistics.median(ratios)
                spread = f"{ratio:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f})"
                title = label if name == "export" else f"  {name}"
                cpu = f"{export.cpu_ms_per_mb(mb):.2f}, {plain.cpu_ms_per_mb(mb):.2f}"
                print(f"{title:22}{export.mb_s(mb):>5.0f} MB/s{plain.mb_s(mb):>5.0f} MB/s"
                      f"{spread:>20}{hashed.mb_s(mb):>11.0f} MB/s{cpu:>24}")  # fmt: skip
                if name != "export":
                    continue
                verdict = "meets" if ratio >= TARGET_RATIO else "is below"
                note = "headline; " if cold else ""
                if not fsync:  # one pass per core, reading and writing free: the best case
                    note += f"CPU ceiling {sha_mb_s * plain.cpu_ms_per_mb(mb) / 1e3:.2f}; "
                cores = statistics.median(export.cpus_s) / statistics.median(export.walls_s)
                print(f"{'':22}{note}export/copy {verdict} the target {TARGET_RATIO}; the "
                      f"export kept {cores:.1f} cores busy; load average "
                      f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        print(f"export: {plan.frames} frames, {plan.fragments} fragments, "
              f"{target.stat().st_size / 1e6:.0f} MB written; {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
