"""Segment file names: what a path says about the segment in it (DESIGN §6).

Relative to the pool directory (UTC date and start time with milliseconds)::

    <channel_id>/<YYYYMMDD>/<channel_id>-<YYYYMMDDTHHMMSSmmm>Z-r<run_id>-<seq>.mp4

The name carries what reconciliation needs to index a file cut by a crash (channel, run,
wall start); the file's ``tfdt`` boxes carry the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SEGMENT_SUFFIX = ".mp4"
_NAME = re.compile(
    r"^(?P<channel>[0-9A-Za-z]{1,20})-(?P<stamp>\d{8}T\d{9})Z-r(?P<run>\d+)-(?P<seq>\d+)\.mp4$"
)


@dataclass(frozen=True, slots=True)
class SegmentName:
    """What a segment file's relative path says about it."""

    channel_id: str
    start_at: datetime
    run_id: int
    seq: int


def segment_path(channel_id: str, start_at: datetime, run_id: int, seq: int) -> str:
    """The relative path of a segment file (see the module docstring)."""
    utc = start_at.astimezone(UTC)
    stamp = utc.strftime("%Y%m%dT%H%M%S") + f"{utc.microsecond // 1000:03d}"
    return f"{channel_id}/{utc:%Y%m%d}/{channel_id}-{stamp}Z-r{run_id}-{seq:04d}{SEGMENT_SUFFIX}"


def parse_segment_path(path: str) -> SegmentName | None:
    """The fields of a path made by :func:`segment_path`, or None for a foreign name."""
    match = _NAME.match(path.rsplit("/", 1)[-1])
    if match is None:
        return None
    stamp = match["stamp"]
    try:
        start = datetime.strptime(stamp[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    start += timedelta(milliseconds=int(stamp[15:]))
    return SegmentName(match["channel"], start, int(match["run"]), int(match["seq"]))
