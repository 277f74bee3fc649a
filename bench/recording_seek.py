"""Seek latency of recorded playback: from a seek request to the first fragment's bytes.

A day-scale index is built in a fresh SQLite database: three real 60 s segment files
(640x360 H.264 from the simulator's clip, one GOP per second, written by
``record_samples``), then one row per minute of a whole day for the measured channel, each
pointing (through a hard link) at one of those files with its real fragment table, with
one minute in fifty missing (gaps), plus the same for ``--other-channels`` channels
(rows only) so the index holds tens of thousands of rows. Then, for ``--seeks`` random
instants across the day (target: median and p95 <= 200 ms):

(a) reader: a new ``PlaybackReader`` at the instant until its first fragment is read and
    retimed (index lookups, init segment, one file read);
(b) WebSocket: one playback session on a loopback ``uvicorn`` server; ``{"op": "seek"}``
    sent, time until the first fragment after it arrives at the client;
(c) WebSocket, new connection: connect with ``?start=`` (authorisation, scope check,
    session start) until the first fragment arrives.

Prints figures, not pass/fail::

    .venv/bin/python bench/recording_seek.py [--seeks 60] [--other-channels 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect

from vigil.access.audit_key import load_or_create_audit_key
from vigil.access.users import ensure_admin
from vigil.api.app import create_app
from vigil.api.context import ApiContext
from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.db.tables import segments
from vigil.recording.fragment_table import pack_fragments
from vigil.recording.index import SegmentRow
from vigil.recording.playback_reader import PlaybackReader
from vigil.recording.playback_session import iso
from vigil.recording.segment_reader import SegmentReader
from vigil.recording.segment_writer import clip_samples, record_samples
from vigil.settings import AuthSettings, RetentionSettings
from vigil.sim.sim_media import encode_clip

CHANNEL = "34020200001310000001"
DAY = datetime(2026, 11, 2, tzinfo=UTC)
POOL = "default"
TARGET_MS = 200.0
PASSWORD = "bench-admin-Secret-42"
LEDGER = (
    "id,name,region_code,org_code,org_name,point_class,network,resolution\n"
    f"{CHANNEL},bench,340202,BENCH,Bench,1,police_video,640x360\n"
).encode()


async def build_index(engine: AsyncEngine, pool: Path, other_channels: int) -> int:
    """Real files, then a day of rows per channel; returns the number of rows."""
    samples = clip_samples(encode_clip(640, 360, CHANNEL), frames=3 * 60 * 25 + 1)
    real = await record_samples(
        engine, POOL, pool, CHANNEL, samples,
        start_at=DAY - timedelta(days=1), segment_duration_s=60.0, fsync=False,
    )  # fmt: skip
    real = [r for r in real if r.duration_90k >= 59 * 90_000]
    rows = 0
    for index in range(other_channels + 1):
        channel = CHANNEL if index == 0 else f"34020200001320{index:06d}"
        batch: list[dict[str, object]] = []
        for minute in range(24 * 60):
            if minute % 50 == 49:
                continue  # a gap
            source = real[minute % len(real)]
            path = f"day/{channel}/{minute:04d}.mp4"
            if index == 0:
                target = pool / path
                target.parent.mkdir(parents=True, exist_ok=True)
                os.link(pool / source.path, target)
            batch.append(_row(source, channel, path, minute))
        async with engine.begin() as conn:  # one executemany per channel
            await conn.execute(segments.insert(), batch)
        rows += len(batch)
    return rows + len(real)


def _row(source: SegmentRow, channel: str, path: str, minute: int) -> dict[str, object]:
    """The ``segments`` columns of a synthetic row (what ``insert_segment`` writes)."""
    start = DAY + timedelta(minutes=minute)
    return {
        "channel_id": channel,
        "pool": POOL,
        "path": path,
        "run_id": 1_000 + minute // 50,
        "start_at": start,
        "end_at": start + timedelta(microseconds=source.duration_90k * 100 // 9),
        "start_90k": (minute % 50) * source.duration_90k,
        "duration_90k": source.duration_90k,
        "size_bytes": source.size_bytes,
        "init_size_bytes": source.init_size_bytes,
        "frames": source.frames,
        "params_id": source.params_id,
        "sha256": source.sha256,
        "fragments": pack_fragments(source.fragments),
        "recovered": False,
    }


def instants(count: int, seed: int = 28181) -> list[datetime]:
    rng = random.Random(seed)
    return [DAY + timedelta(seconds=rng.uniform(0, 86_399)) for _ in range(count)]


def summary(label: str, samples_ms: list[float]) -> None:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    verdict = "ok" if p95 <= TARGET_MS else "ABOVE TARGET"
    print(
        f"  {label:34} n={len(ordered):3}  median {median:6.1f} ms  p95 {p95:6.1f} ms  "
        f"max {ordered[-1]:6.1f} ms  (target <= {TARGET_MS:.0f} ms: {verdict})",
        flush=True,
    )


async def reader_seeks(
    engine: AsyncEngine, files: SegmentReader, at: list[datetime]
) -> list[float]:
    out: list[float] = []
    for instant in at:
        started = time.perf_counter()
        reader = PlaybackReader(engine, files, CHANNEL, instant)
        async for item in reader:
            if item.kind == "fragment":
                break
        else:
            raise AssertionError(f"nothing recorded after {instant}")
        out.append((time.perf_counter() - started) * 1000)
    return out


async def first_fragment(ws: ClientConnection) -> None:
    """Wait for the next fragment (a ``position`` message, then its bytes)."""
    positioned = False
    while True:
        message = await ws.recv()
        if isinstance(message, str):
            positioned = positioned or json.loads(message)["type"] == "position"
        elif positioned:
            return


async def socket_seeks(base_ws: str, at: list[datetime]) -> list[float]:
    out: list[float] = []
    async with connect(f"{base_ws}&start={iso(at[0])}", max_size=None) as ws:
        await first_fragment(ws)
        await ws.send(json.dumps({"op": "pause"}))  # nothing else in flight while measuring
        for instant in at:
            while True:  # drain what the lead still sends
                try:
                    await asyncio.wait_for(ws.recv(), 0.05)
                except TimeoutError:
                    break
            started = time.perf_counter()
            await ws.send(json.dumps({"op": "seek", "at": iso(instant)}))
            await first_fragment(ws)
            out.append((time.perf_counter() - started) * 1000)
    return out


async def socket_opens(base_ws: str, at: list[datetime]) -> list[float]:
    out: list[float] = []
    for instant in at:
        started = time.perf_counter()
        async with connect(f"{base_ws}&start={iso(instant)}", max_size=None) as ws:
            await first_fragment(ws)
            out.append((time.perf_counter() - started) * 1000)
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run(seeks: int, other_channels: int) -> None:
    with tempfile.TemporaryDirectory(prefix="vigil-seek-bench-") as tmp:
        root = Path(tmp)
        url = f"sqlite+aiosqlite:///{root / 'vigil.db'}"
        await upgrade(url)
        engine = create_engine(url)
        pool = root / "pool"
        began = time.perf_counter()
        rows = await build_index(engine, pool, other_channels)
        print(f"Recording seek latency: {rows:,} segment rows ({other_channels + 1} channels × "
              f"a day of 60 s segments, 1 in 50 minutes missing), built in "
              f"{time.perf_counter() - began:.0f} s; {seeks} random instants")  # fmt: skip
        files = SegmentReader({POOL: pool})
        at = instants(seeks)
        await reader_seeks(engine, files, at[:5])  # warm the page cache and the pool
        summary("reader: seek → first fragment", await reader_seeks(engine, files, at))

        async with engine.begin() as conn:
            await ensure_admin(conn, "admin", PASSWORD)
        ctx = ApiContext(
            engine=engine, auth=AuthSettings(), retention=RetentionSettings(),
            audit_key=load_or_create_audit_key(root), max_upload_bytes=1 << 20,
            segment_reader=files,
        )  # fmt: skip
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_config=None)
        )
        serving = asyncio.ensure_future(server.serve())
        try:
            while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, no event
                await asyncio.sleep(0.05)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api/v1") as client:
                answer = await client.post(
                    "/auth/login", json={"username": "admin", "password": PASSWORD}
                )
                token = answer.json()["token"]
                headers = {"Authorization": f"Bearer {token}"}
                for code, name in (("3402", "芜湖市"), ("340202", "镜湖区")):
                    await client.post(
                        "/regions", json={"code": code, "name": name}, headers=headers
                    )
                imported = await client.post(
                    "/ledger/import", files={"file": ("l.csv", LEDGER, "text/csv")},
                    headers=headers,
                )  # fmt: skip
                assert imported.status_code == 200, imported.text
            base_ws = f"ws://127.0.0.1:{port}/api/v1/channels/{CHANNEL}/playback?token={token}"
            summary("WebSocket: seek op → first fragment", await socket_seeks(base_ws, at))
            summary(
                "WebSocket: connect → first fragment",
                await socket_opens(base_ws, at[: max(10, seeks // 3)]),
            )
        finally:
            server.should_exit = True
            await serving
            await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeks", type=int, default=60, help="random instants (>= 50)")
    parser.add_argument("--other-channels", type=int, default=20)
    args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else list(argv))
    asyncio.run(run(max(args.seeks, 50), args.other_channels))


if __name__ == "__main__":
    main()
