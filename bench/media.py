"""Live ingest at scale: Vigil's media server vs one ``ffmpeg -c copy`` per stream.

Both sides get the same GB/T 28181-style streams — 2 Mbit/s CBR, 25 fps, 1280x720 H.264
(a 4 s clip encoded by libx264 via PyAV, an IDR every 2 s), one PS pack per frame, payloads
of ≤ 1400 bytes — replayed at real-time pace over loopback
UDP by a sender process pinned to the other core. Streams are staggered (frame slots and
GOP phases) as independent cameras are.

(a) Vigil: ONE process pinned to one core runs MediaServer (shared UDP port, demux by
    SSRC) with N streams, each with one live fMP4 subscriber (FRAME mode) draining it.
    N is stepped up until a step shows loss. Reported: CPU % of the core, CPU and RSS per
    stream, zero-loss or not (packets sent vs received, reorder gaps).
(b) Reference: one ``ffmpeg -f mpeg -i udp://… -c copy -f mp4 -movflags
    frag_every_frame…`` per stream (same PS, pinned to the same core, fMP4 to a pipe).
    FFmpeg 5.1 cannot take RTP/PS (no MP2P depacketiser), so its input is the bare PS
    payloads over UDP: it skips the RTP layer Vigil does.

Prints figures, not pass/fail; loopback only; each phase stays around a minute::

    .venv/bin/python bench/media.py [--steps 50,100,200,300,400] [--ffmpeg-streams 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

FPS = 25
FRAME_S = 1 / FPS
BITRATE = 2_000_000
GOP = 50
IDR_BYTES = 60_000
CLIP_FRAMES = 2 * GOP
SLOTS = 8  # each frame interval is split in slots; stream i sends in slot i % SLOTS
FIRST_SSRC = 200000001
PAYLOAD = 1400
SCRIPT = os.path.abspath(__file__)
CORES = {"receiver": 0, "sender": 1}  # set from the command line in every process


# -- the synthetic stream --------------------------------------------------------------------


def make_clip() -> list[tuple[bool, bytes]]:
    """Two GOPs (4 s) of real 1280x720 H.264 at 2 Mbit/s CBR; streams loop over it.

    A moving gradient with per-frame noise, so that P-frames cost bits as a camera's do
    (IDR ≈ 60-75 KB, P ≈ 6-13 KB) and every frame decodes (FFmpeg probes by decoding).
    """
    import av
    import numpy as np

    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 1280, 720, "yuv420p"
    ctx.time_base = Fraction(1, FPS)
    ctx.framerate = Fraction(FPS, 1)
    ctx.gop_size = GOP
    ctx.max_b_frames = 0
    ctx.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": f"bitrate={BITRATE // 1000}:vbv-maxrate={BITRATE // 1000}:"
        f"vbv-bufsize={BITRATE // 2000}:keyint={GOP}:min-keyint={GOP}:scenecut=0",
    }
    rng = np.random.default_rng(0)
    x = np.arange(1280, dtype=np.int16)[None, :]
    y = np.arange(720, dtype=np.int16)[:, None]
    clip: list[tuple[bool, bytes]] = []
    for i in range(CLIP_FRAMES + 1):
        image = np.empty((720, 1280, 3), np.int16)
        image[..., 0] = (x + 4 * i) & 255
        image[..., 1] = (y + 2 * i) & 255
        image[..., 2] = ((x + y) // 2) & 255
        image += rng.integers(-20, 21, image.shape, dtype=np.int16)
        frame = av.VideoFrame.from_ndarray(np.clip(image, 0, 255).astype(np.uint8), "rgb24")
        frame = frame.reformat(format="yuv420p")
        frame.pts = i
        clip += [(bool(p.is_keyframe), bytes(p)) for p in ctx.encode(frame)]
    clip += [(bool(p.is_keyframe), bytes(p)) for p in ctx.encode(None)]
    return clip[:CLIP_FRAMES]


# -- sender process ----------------------------------------------------------------------------


def sender_main(args: argparse.Namespace) -> None:
    """Replays N streams at 25 fps: RTP to one port (Vigil) or bare PS to N ports (ffmpeg)."""
    from vigil.protocols.ps.muxer import PsMuxer
    from vigil.protocols.rtp.packetizer import RtpPacketizer
    from vigil.protocols.samples import Codec, Sample

    os.sched_setaffinity(0, {CORES["sender"]})
    clip = make_clip()
    n = args.streams
    ports = [args.port + (0 if args.mode == "rtp" else i) for i in range(n)]
    muxer = PsMuxer(Codec.H264)
    packetizers = [RtpPacketizer(FIRST_SSRC + i, max_payload=PAYLOAD) for i in range(n)]
    starts = [(i * 7) % GOP for i in range(n)]  # first frame (an IDR) of each: spread GOPs
    sent = [0] * n
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * 1024 * 1024)
    sendto = sock.sendto
    print("ready", flush=True)
    sys.stdin.readline()  # go
    start = time.monotonic()
    slot_s = FRAME_S / SLOTS
    max_lag_s = 0.0
    tick = 0
    while time.monotonic() - start < args.seconds:
        for slot in range(SLOTS):
            delay = start + (tick * SLOTS + slot) * slot_s - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                max_lag_s = max(max_lag_s, -delay)
            for i in range(slot, n, SLOTS):
                age = tick - starts[i]
                if age < 0:
                    continue
                is_key, data = clip[age % CLIP_FRAMES]
                pts = 90000 + age * 3600
                ps = muxer.mux(Sample(Codec.H264, pts, pts, is_key, data))
                target = ("127.0.0.1", ports[i])
                if args.mode == "rtp":
                    packets = packetizers[i].packetize(ps, pts)
                else:
                    packets = [ps[p : p + PAYLOAD] for p in range(0, len(ps), PAYLOAD)]
                for packet in packets:
                    sendto(packet, target)
                sent[i] += len(packets)
        tick += 1
    elapsed = time.monotonic() - start
    print(json.dumps({"sent": sent, "seconds": elapsed, "max_lag_s": max_lag_s}), flush=True)


def launch_sender(mode: str, port: int, streams: int, seconds: float) -> subprocess.Popen[str]:
    """Start the sender process, wait until it is ready, and let it go."""
    process = subprocess.Popen(
        [sys.executable, SCRIPT, "--role", "sender", "--mode", mode, "--port", str(port),
         "--streams", str(streams), "--seconds", str(seconds), *core_args()],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.strip() == "ready", line
    process.stdin.write("go\n")
    process.stdin.flush()
    return process


def sender_result(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for the sender to finish; its packet counts per stream and its worst lag."""
    out, _ = process.communicate(timeout=120)
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def core_busy_s(core: int) -> tuple[float, float]:
    """(busy, total) seconds of one core since boot (/proc/stat), to see who else ran."""
    tick = os.sysconf("SC_CLK_TCK")
    with open("/proc/stat", encoding="ascii") as stat:
        for line in stat:
            if line.startswith(f"cpu{core} "):
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + values[4]
                return (sum(values) - idle) / tick, sum(values) / tick
    return 0.0, 0.0


def core_args() -> list[str]:
    return ["--receiver-core", str(CORES["receiver"]), "--sender-core", str(CORES["sender"])]


def quietest_cores() -> tuple[int, int]:
    """(receiver, sender): the core other processes use least gets the receiver."""
    before = [core_busy_s(core) for core in (0, 1)]
    time.sleep(1.0)
    after = [core_busy_s(core) for core in (0, 1)]
    busy = [(a[0] - b[0]) / max(a[1] - b[1], 1e-9) for a, b in zip(after, before, strict=True)]
    return (0, 1) if busy[0] <= busy[1] else (1, 0)


def others_fraction(
    before: tuple[float, float], after: tuple[float, float], ours_s: float
) -> float:
    """Share of the core used by other processes during the window."""
    total = after[1] - before[1]
    return max(0.0, (after[0] - before[0] - ours_s) / total) if total > 0 else 0.0


# -- (a) Vigil ---------------------------------------------------------------------------------


def udp_drops(port: int) -> int:
    """Kernel drops on our UDP socket (/proc/net/udp, last column)."""
    try:
        with open("/proc/net/udp", encoding="ascii") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                if int(fields[1].split(":")[1], 16) == port:
                    return int(fields[-1])
    except OSError:
        pass
    return -1


async def vigil_run(
    streams: int, seconds: float, warmup_s: float, compiled: bool
) -> dict[str, Any]:
    import psutil

    from vigil.media import rtp_lane
    from vigil.media.live import LiveFmp4Session
    from vigil.media.server import MediaServer
    from vigil.settings import MediaSettings

    os.sched_setaffinity(0, {CORES["receiver"]})
    me = psutil.Process()
    rss_before = me.memory_info().rss
    settings = MediaSettings(
        host="127.0.0.1",
        rtp_port=0,
        no_data_timeout_s=30,
        compiled_receive=compiled,
        receive_coalesce_s=float(os.environ.get("VIGIL_MEDIA__RECEIVE_COALESCE_S", "0.002")),
    )
    server = MediaServer(settings)
    runner = asyncio.create_task(server.run())
    await server.wait_started()
    handles = [await server.open_stream(FIRST_SSRC + i) for i in range(streams)]
    delivered = [0] * streams

    async def drain(index: int, session: LiveFmp4Session) -> None:
        async for message in session:
            delivered[index] += len(message)

    sessions = [LiveFmp4Session.open(h.hub) for h in handles]
    gc.freeze()  # as `vigil serve` does once it is ready (vigil/app.py)
    async with asyncio.TaskGroup() as group:
        for index, session in enumerate(sessions):
            group.create_task(drain(index, session))
        sender = await asyncio.to_thread(
            launch_sender, "rtp", server.rtp_port, streams, warmup_s + seconds
        )
        await asyncio.sleep(warmup_s)
        cpu0, wall0, core0 = me.cpu_times(), time.monotonic(), core_busy_s(CORES["receiver"])
        await asyncio.sleep(seconds)
        cpu1, wall1, core1 = me.cpu_times(), time.monotonic(), core_busy_s(CORES["receiver"])
        rss_during = me.memory_info().rss
        sent = await asyncio.to_thread(sender_result, sender)
        await asyncio.sleep(1.0)  # the watchdog releases reorder gaps of the last packets
        stats = [h.stats() for h in handles]
        drops = udp_drops(server.rtp_port)
        for session in sessions:
            session.close()
    server.stop()
    await runner
    cpu_s = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    received = sum(s.packets for s in stats)
    lost = sum(s.lost_packets for s in stats)
    short = sum(max(0, a - s.packets) for a, s in zip(sent["sent"], stats, strict=True))
    return {
        "streams": streams,
        "receive": "compiled" if compiled and rtp_lane.compiled is not None else "python",
        "cpu_fraction": cpu_s / (wall1 - wall0),
        "system_fraction": (cpu1.system - cpu0.system) / (wall1 - wall0),
        "others_fraction": others_fraction(core0, core1, cpu_s),
        "rss_per_stream": (rss_during - rss_before) / streams,
        "sent": sum(sent["sent"]),
        "received": received,
        "lost": lost,
        "missing": short,
        "kernel_drops": drops,
        "frames": sum(s.frames for s in stats),
        "fmp4_bytes": sum(delivered),
        "pps": received / sent["seconds"],
        "sender_lag_s": sent["max_lag_s"],
        "zero_loss": lost == 0 and short == 0,
    }


# -- (b) ffmpeg ----------------------------------------------------------------------------------


def free_udp_ports(count: int) -> int:
    """A base port with ``count`` consecutive free UDP ports."""
    for base in range(42000, 60000, count + 7):
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free UDP port range")


def ffmpeg_run(streams: int, seconds: float, warmup_s: float) -> dict[str, Any]:
    with contextlib.ExitStack() as stack:  # stderr of each ffmpeg: a file, never a full pipe
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in range(streams)]
        return ffmpeg_measure(streams, seconds, warmup_s, logs)


def ffmpeg_measure(
    streams: int, seconds: float, warmup_s: float, logs: list[Any]
) -> dict[str, Any]:
    import psutil

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not installed")
    base = free_udp_ports(streams)
    processes: list[subprocess.Popen[bytes]] = []
    outputs = [0] * streams
    readers: list[threading.Thread] = []

    def count(index: int, pipe: Any) -> None:
        for chunk in iter(lambda: pipe.read(65536), b""):
            outputs[index] += len(chunk)

    for i in range(streams):
        url = f"udp://127.0.0.1:{base + i}?fifo_size=200000&overrun_nonfatal=1&timeout=3000000"
        process = subprocess.Popen(
            [ffmpeg, "-nostdin", "-v", "error", "-f", "mpeg", "-probesize", "65536",
             "-analyzeduration", "0", "-i", url, "-map", "0:v", "-c", "copy", "-f", "mp4",
             "-movflags", "+frag_every_frame+empty_moov+default_base_moof", "pipe:1"],
            stdout=subprocess.PIPE, stderr=logs[i],
        )  # fmt: skip
        os.sched_setaffinity(process.pid, {CORES["receiver"]})
        processes.append(process)
        reader = threading.Thread(target=count, args=(i, process.stdout), daemon=True)
        reader.start()
        readers.append(reader)
    time.sleep(1.0)  # every ffmpeg listening
    watched = [psutil.Process(p.pid) for p in processes]
    sender = launch_sender("raw", base, streams, warmup_s + seconds)
    time.sleep(warmup_s)
    cpu0 = [w.cpu_times() for w in watched]
    wall0, core0 = time.monotonic(), core_busy_s(CORES["receiver"])
    time.sleep(seconds)
    cpu1 = [w.cpu_times() for w in watched]
    wall1, core1 = time.monotonic(), core_busy_s(CORES["receiver"])
    rss = sum(w.memory_info().rss for w in watched)
    sender_result(sender)
    errors = []
    for process, log in zip(processes, logs, strict=True):
        try:  # each ffmpeg ends by itself 3 s after its input stopped (udp timeout)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()
        # "Input/output error" is the udp timeout ending the input: the normal end here.
        errors.append("\n".join(x for x in lines if "Input/output error" not in x).strip())
    for reader in readers:
        reader.join(timeout=5)
    cpu_s = sum((b.user + b.system) - (a.user + a.system) for a, b in zip(cpu0, cpu1, strict=True))
    return {
        "streams": streams,
        "cpu_fraction": cpu_s / (wall1 - wall0),
        "others_fraction": others_fraction(core0, core1, cpu_s),
        "rss_per_stream": rss / streams,
        "fmp4_bytes": sum(outputs),
        "silent_outputs": sum(1 for o in outputs if o == 0),
        "error_lines": sum(1 for e in errors if e),
        "first_error": next((e.splitlines()[0] for e in errors if e), ""),
    }


# -- orchestration -------------------------------------------------------------------------------


def run_role(role: str, args: argparse.Namespace) -> dict[str, Any]:
    """Each measured run in a fresh process, so RSS and CPU are its own."""
    command = [sys.executable, SCRIPT, "--role", role, "--streams", str(args.streams),
               "--seconds", str(args.seconds), "--warmup", str(args.warmup),
               "--receive", args.receive,
               *core_args()]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{role} run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Figures:
    vigil: list[dict[str, Any]]
    ffmpeg: dict[str, Any] | None


def ffmpeg_unreliable(ff: dict[str, Any]) -> str:
    """Why an ffmpeg run is no reference (empty outputs, errors: it did not do the work)."""
    if ff["silent_outputs"] or ff["error_lines"]:
        return f"{ff['silent_outputs']} outputs empty, {ff['error_lines']} processes with errors"
    return ""


def report(figures: Figures) -> None:
    print()
    paths = sorted({r["receive"] for r in figures.vigil})
    print("(a) Vigil, one process on one core, N streams × 2 Mbit/s, live fMP4 subscriber each;"
          f" UDP receive path: {', '.join(paths)}")  # fmt: skip
    print(f"{'N':>5} {'core CPU':>9} {'CPU/stream':>11} {'RSS/stream':>11} {'packets/s':>10} "
          f"{'lost':>6} {'missing':>8} {'k-drops':>8} {'sender lag':>11} {'others':>7}"
          "  zero loss")  # fmt: skip
    for r in figures.vigil:
        print(f"{r['streams']:>5} {r['cpu_fraction'] * 100:>8.1f}% "
              f"{r['cpu_fraction'] / r['streams'] * 100:>10.3f}% "
              f"{r['rss_per_stream'] / 1024:>8.0f} KiB {r['pps']:>10,.0f} {r['lost']:>6} "
              f"{r['missing']:>8} {r['kernel_drops']:>8} {r['sender_lag_s'] * 1000:>8.1f} ms"
              f" {r['others_fraction'] * 100:>6.1f}%"
              f"  {'yes' if r['zero_loss'] else 'NO'}")  # fmt: skip
    print("  others: CPU of other processes on the same core during the window (shared host)")
    clean = [r for r in figures.vigil if r["zero_loss"]]
    best = max(clean, key=lambda r: r["streams"]) if clean else None
    if best is not None:
        per_stream = best["cpu_fraction"] / best["streams"]
        print(f"max streams sustained with zero loss: {best['streams']} "
              f"(CPU {best['cpu_fraction'] * 100:.1f}% of the core; "
              f"≈ {1 / per_stream:,.0f} streams per core at this CPU per stream; "
              "target ≥ 300)")  # fmt: skip
    ff = figures.ffmpeg
    if ff is None:
        return
    ff_per_stream = ff["cpu_fraction"] / ff["streams"]
    print()
    print(f"(b) ffmpeg -c copy, one process per stream, {ff['streams']} streams on one core")
    print(f"CPU per stream {ff_per_stream * 100:.3f}% of a core, RSS per process "
          f"{ff['rss_per_stream'] / 2**20:.1f} MiB, "
          f"fMP4 output {ff['fmp4_bytes'] / 2**20:.1f} MiB, "
          f"outputs empty: {ff['silent_outputs']}, others on the core "
          f"{ff['others_fraction'] * 100:.1f}%, processes with errors: {ff['error_lines']}"
          + (f" ({ff['first_error']})" if ff["first_error"] else ""))  # fmt: skip
    unreliable = ffmpeg_unreliable(ff)
    if unreliable:
        print(f"no ratio: the ffmpeg reference is unreliable ({unreliable})")
    elif best is not None:
        ratio = (best["cpu_fraction"] / best["streams"]) / ff_per_stream
        print(f"ratio Vigil CPU per stream / ffmpeg CPU per stream = {ratio:.2f} (target ≤ 0.5)")
        same = min(figures.vigil, key=lambda r: abs(r["streams"] - ff["streams"]))
        ratio_same = (same["cpu_fraction"] / same["streams"]) / ff_per_stream
        print(f"  (at Vigil's smallest step, N={same['streams']}: {ratio_same:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["main", "sender", "vigil", "ffmpeg"], default="main")
    parser.add_argument("--steps", default="50,100,200,300,400")
    parser.add_argument("--ffmpeg-streams", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=6.0, help="measured window per run")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--streams", type=int, default=0)
    parser.add_argument("--mode", choices=["rtp", "raw"], default="rtp")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--receive",
        choices=["compiled", "python"],
        default="compiled",
        help="Vigil's UDP receive path (media.compiled_receive); python: the reference path",
    )
    parser.add_argument("--receiver-core", type=int, default=-1, help="default: the quieter")
    parser.add_argument("--sender-core", type=int, default=-1)
    args = parser.parse_args()
    if args.receiver_core < 0:
        args.receiver_core, args.sender_core = quietest_cores()
    elif args.sender_core < 0:
        args.sender_core = 1 - args.receiver_core
    CORES.update(receiver=args.receiver_core, sender=args.sender_core)
    if args.role == "sender":
        sender_main(args)
        return
    if args.role == "vigil":
        run = vigil_run(args.streams, args.seconds, args.warmup, args.receive == "compiled")
        print(json.dumps(asyncio.run(run)))
        return
    if args.role == "ffmpeg":
        print(json.dumps(ffmpeg_run(args.streams, args.seconds, args.warmup)))
        return
    if (os.cpu_count() or 1) < 2:
        print("needs two cores: one for the receiver, one for the sender")
        return
    print(f"{os.cpu_count()} cores; receiver on core {CORES['receiver']}, "
          f"sender on core {CORES['sender']}")  # fmt: skip
    vigil: list[dict[str, Any]] = []
    started = time.monotonic()
    for n in (int(s) for s in args.steps.split(",")):
        args.streams = n
        result = run_role("vigil", args)
        vigil.append(result)
        print(f"  vigil N={n}: CPU {result['cpu_fraction'] * 100:.1f}%, lost {result['lost']}, "
              f"missing {result['missing']}", flush=True)  # fmt: skip
        if not result["zero_loss"]:
            break
    print(f"  phase (a) took {time.monotonic() - started:.0f} s", flush=True)
    ffmpeg: dict[str, Any] | None = None
    if shutil.which("ffmpeg") and args.ffmpeg_streams > 0:
        args.streams = args.ffmpeg_streams
        started = time.monotonic()
        for _attempt in range(2):  # a starved ffmpeg mis-probes its input: one more try
            ffmpeg = run_role("ffmpeg", args)
            if not ffmpeg_unreliable(ffmpeg):
                break
            print(f"  ffmpeg run unreliable ({ffmpeg_unreliable(ffmpeg)})", flush=True)
        print(f"  phase (b) took {time.monotonic() - started:.0f} s", flush=True)
    report(Figures(vigil, ffmpeg))


if __name__ == "__main__":
    main()
