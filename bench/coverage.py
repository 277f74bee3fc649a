"""Coverage KPI with and without the daily roll-up (``coverage_days``).

A fresh SQLite database gets ``--channels`` class-1 channels with 60 s segments for the
last ``--days`` + 1 days up to now (bulk inserted rows, no files: coverage reads only the
index). Then the guarantee KPI (``coverage.guarantee_summary``: 30-day window, the same
call ``GET /api/v1/coverage`` makes for its summary) is timed three times:

(a) cold — settled days computed from segments and stored (the first request);
(b) warm — settled days read from ``coverage_days``, only today computed from segments
    (best of three);
(c) without the roll-up — every day computed from segment rows, as before it existed
    (run last, with the pages the others read already cached).

Figures scale linearly with the number of channels; the projection to 2 000 and 10 000
channels is printed as such. Prints figures, not pass/fail::

    .venv/bin/python bench/coverage.py [--channels 100] [--days 30]
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.engine import create_engine
from vigil.db.migrate import upgrade
from vigil.recording.coverage import CoverageSubject, guarantee_summary
from vigil.recording.fragment_table import FragmentEntry, pack_fragments
from vigil.recording.index import ensure_video_params
from vigil.settings import RetentionSettings

TZ = ZoneInfo("Asia/Shanghai")
SEGMENT_S = 60
ALLOWANCE_S = 120.0
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores a DateTime in SQLite


def _channel_id(n: int) -> str:
    return f"3402020000131{n:07d}"


def _fill(path: Path, channels: int, start: datetime, end: datetime, params_id: int) -> int:
    """Abutting 60 s segment rows per channel (one minute in 5000 missing: a 60 s gap, within
    the tolerance), inserted minute by minute across channels as the recorder would, so
    every index grows at a few hot pages instead of all over the file."""
    ticks = SEGMENT_S * 90_000
    fragments = pack_fragments((FragmentEntry(10, 990, 0, ticks, 25),))
    count = int((end - start).total_seconds()) // SEGMENT_S
    times = [
        (start + timedelta(seconds=i * SEGMENT_S)).strftime(_SQLITE_TIME) for i in range(count + 1)
    ]
    created = datetime.now(UTC).strftime(_SQLITE_TIME)
    ids = [_channel_id(n) for n in range(channels)]
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-262144")  # 256 MiB
    insert = (
        "INSERT INTO segments (channel_id, pool, path, run_id, start_at, end_at, start_90k,"
        " duration_90k, size_bytes, init_size_bytes, frames, params_id, sha256, fragments,"
        " recovered, created_at)"
        " VALUES (?, 'default', ?, 1, ?, ?, 0, ?, 1000, 10, 25, ?, ?, ?, 0, ?)"
    )
    rows = 0
    with db:
        for first in range(0, count, 60):
            batch = [
                (ids[n], f"{ids[n]}/{i:07d}", times[i], times[i + 1], ticks, params_id,
                 "0" * 64, fragments, created)
                for i in range(first, min(first + 60, count))
                for n in range(channels)
                if (i * 7919 + n) % 5000 != 0
            ]  # fmt: skip
            db.executemany(insert, batch)
            rows += len(batch)
    db.close()
    return rows


async def _time_kpi(
    engine: AsyncEngine, subjects: Sequence[CoverageSubject], now: datetime, rollup: bool
) -> tuple[float, int, int]:
    began = time.perf_counter()
    summary = await guarantee_summary(
        engine,
        subjects,
        now=now,
        retention=RetentionSettings(),
        open_allowance_s=ALLOWANCE_S,
        tz=TZ,
        rollup=rollup,
    )
    return time.perf_counter() - began, summary.meeting, summary.total


async def run(channels: int, days: int) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = now - timedelta(days=days + 1, hours=2)
    with tempfile.TemporaryDirectory(prefix="vigil-coverage-") as tmp:
        path = Path(tmp) / "vigil.db"
        url = f"sqlite+aiosqlite:///{path}"
        await upgrade(url)
        engine = create_engine(url)
        async with engine.begin() as conn:
            params_id = await ensure_video_params(
                conn, codec="h264", rfc6381_codec="avc1.640028", width=1920, height=1080,
                init_segment=b"init",
            )  # fmt: skip
        began = time.perf_counter()
        rows = await asyncio.to_thread(
            _fill, path, channels, start, now - timedelta(seconds=30), params_id
        )
        print(f"{rows:,} segment rows for {channels} channels × {days + 1} days "
              f"in {time.perf_counter() - began:.1f} s "
              f"({path.stat().st_size / 1e9:.2f} GB)")  # fmt: skip
        subjects = [CoverageSubject(_channel_id(n), "", "340202", None, 1) for n in range(channels)]
        # Cold first, so neither figure gains from pages the other brought into the cache.
        cold, meeting, total = await _time_kpi(engine, subjects, now, rollup=True)
        warm = min([(await _time_kpi(engine, subjects, now, rollup=True))[0] for _ in range(3)])
        plain, meeting_plain, _ = await _time_kpi(engine, subjects, now, rollup=False)
        assert meeting == meeting_plain
        local_now = now.astimezone(TZ)
        print(f"KPI over {total} class-1 channels (30-day window, {meeting} meet it), "
              f"local time {local_now:%H:%M} (today's {local_now.hour * 60 + local_now.minute}"
              " minutes computed live):")  # fmt: skip
        figures = (
            ("cold (compute + store)", cold),
            ("warm (roll-up)", warm),
            ("no roll-up", plain),
        )
        for name, seconds in figures:
            per = 1000 * seconds / channels
            print(f"  {name:<24} {seconds:8.2f} s   {per:7.2f} ms/channel   "
                  f"→ 2 000: {2 * per:7.1f} s   10 000: {10 * per:7.1f} s (projected)")  # fmt: skip
        print(f"  warm vs cold: {cold / warm:.1f}× faster; "
              f"warm vs no roll-up: {plain / warm:.1f}× faster")  # fmt: skip
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args(argv)
    asyncio.run(run(args.channels, args.days))


if __name__ == "__main__":
    sys.exit(main())
