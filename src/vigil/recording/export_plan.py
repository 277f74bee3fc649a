"""Which bytes of which segment files make up an export, and where each lands in time.

An export of [start, end) is one fragmented MP4: an init segment, then every recorded
fragment (one GOP, starting with a keyframe) whose wall time overlaps the range — so it
begins at the keyframe at or before ``start`` — with each ``moof`` moved onto one timeline
that starts at 0 and never jumps:

* **Gaps are closed up.** Between runs (the stream stopped and restarted) the next
  fragment follows the previous one directly, so every player plays the file through
  without stalling (an MSE buffer with a hole stops at the hole). Each gap is listed in
  the manifest with its wall-clock start and end and the position in the file where it
  was closed (``at_90k``), so file time maps back to wall time exactly.
* **A parameter change** (a different ``video_params`` row: new resolution or codec
  settings) writes the next file's own init segment before its first fragment. MSE treats
  it as a re-initialisation of the SourceBuffer and FFmpeg decodes on from the in-band
  SPS/PPS every recorded keyframe carries; the manifest counts the changes.

Planning is pure: rows in, a plan out. :mod:`vigil.recording.export_file` executes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from vigil.recording.errors import ExportError
from vigil.recording.index import SegmentRow

TICKS_PER_S = 90_000
# Wall time between two fragments of one run beyond which the hole is reported as a gap
# (the recorder corrects wall time by at most 500 ppm, i.e. 30 ms per minute).
GAP_TOLERANCE = timedelta(milliseconds=250)


def wall_at(row: SegmentRow, offset_90k: int) -> datetime:
    """Wall time of a point ``offset_90k`` after the segment's first frame."""
    return row.start_at + timedelta(microseconds=offset_90k * 100 // 9)


@dataclass(frozen=True, slots=True)
class PlannedFragment:
    offset_bytes: int  # in the segment file
    size_bytes: int
    output_decode_90k: int  # baseMediaDecodeTime in the export
    duration_90k: int
    frames: int
    wall_start: datetime


@dataclass(frozen=True, slots=True)
class PlannedSegment:
    row: SegmentRow
    fragments: tuple[PlannedFragment, ...]
    writes_init: bool  # this file's init segment is written before its fragments

    @property
    def wall_start(self) -> datetime:
        return self.fragments[0].wall_start

    @property
    def wall_end(self) -> datetime:
        last = self.fragments[-1]
        return last.wall_start + timedelta(microseconds=last.duration_90k * 100 // 9)


@dataclass(frozen=True, slots=True)
class Gap:
    """Wall time inside the requested range with no footage in the export."""

    start: datetime
    end: datetime
    at_90k: int  # where in the export's timeline the gap was closed up


@dataclass(frozen=True, slots=True)
class ExportPlan:
    channel_id: str
    requested_start: datetime
    requested_end: datetime
    segments: tuple[PlannedSegment, ...]
    gaps: tuple[Gap, ...]

    @property
    def covered_start(self) -> datetime:
        return self.segments[0].wall_start

    @property
    def covered_end(self) -> datetime:
        return self.segments[-1].wall_end

    @property
    def duration_90k(self) -> int:
        last = self.segments[-1].fragments[-1]
        return last.output_decode_90k + last.duration_90k

    @property
    def frames(self) -> int:
        return sum(f.frames for s in self.segments for f in s.fragments)

    @property
    def fragments(self) -> int:
        return sum(len(s.fragments) for s in self.segments)

    @property
    def parameter_changes(self) -> int:
        return sum(1 for s in self.segments[1:] if s.writes_init)

    @property
    def output_size_bytes(self) -> int:
        inits = sum(s.row.init_size_bytes for s in self.segments if s.writes_init)
        return inits + sum(f.size_bytes for s in self.segments for f in s.fragments)

    @property
    def read_size_bytes(self) -> int:
        """Bytes read from the sources: whole files, since each file's hash is checked."""
        return sum(s.row.size_bytes for s in self.segments)


def _selected(row: SegmentRow, start: datetime, end: datetime) -> list[int]:
    """Indexes of the row's fragments overlapping [start, end), from a keyframe on."""
    chosen = [
        i
        for i, e in enumerate(row.fragments)
        if wall_at(row, e.start_90k) < end and wall_at(row, e.end_90k) > start
    ]
    if not chosen:
        return []
    first = chosen[0]
    while first > 0 and not row.fragments[first].starts_with_key:
        first -= 1  # a fragment cut early inside a GOP: start at the GOP's keyframe
    while first <= chosen[-1] and not row.fragments[first].starts_with_key:
        first += 1  # no keyframe before it in this file: skip what cannot be decoded
    return list(range(first, chosen[-1] + 1))


def plan_export(
    channel_id: str, start: datetime, end: datetime, rows: list[SegmentRow]
) -> ExportPlan:
    """The export of [start, end) from ``rows`` (the channel's segments, oldest first)."""
    if end <= start:
        raise ExportError("the export range ends before it starts")
    planned: list[PlannedSegment] = []
    gaps: list[Gap] = []
    position_90k = 0
    previous: PlannedSegment | None = None
    for row in sorted(rows, key=lambda r: (r.start_at, r.id)):
        if row.channel_id != channel_id:
            raise ExportError(f"segment {row.id} belongs to channel {row.channel_id}")
        indexes = _selected(row, start, end)
        if not indexes:
            continue
        fragments: list[PlannedFragment] = []
        for i in indexes:
            entry = row.fragments[i]
            fragments.append(
                PlannedFragment(
                    offset_bytes=entry.offset_bytes,
                    size_bytes=entry.size_bytes,
                    output_decode_90k=position_90k,
                    duration_90k=entry.duration_90k,
                    frames=entry.frames,
                    wall_start=wall_at(row, entry.start_90k),
                )
            )
            position_90k += entry.duration_90k
        segment = PlannedSegment(
            row=row,
            fragments=tuple(fragments),
            writes_init=previous is None or previous.row.params_id != row.params_id,
        )
        if previous is not None:
            hole = segment.wall_start - previous.wall_end
            if previous.row.run_id != row.run_id or hole > GAP_TOLERANCE:
                # A restart that abuts or overlaps is still a discontinuity: zero length.
                gap_end = max(segment.wall_start, previous.wall_end)
                gaps.append(Gap(previous.wall_end, gap_end, fragments[0].output_decode_90k))
        planned.append(segment)
        previous = segment
    if not planned:
        raise ExportError("nothing is recorded in the requested range")
    first, last = planned[0], planned[-1]
    if first.wall_start > start:
        gaps.insert(0, Gap(start, first.wall_start, 0))
    if last.wall_end < end:
        gaps.append(Gap(last.wall_end, end, position_90k))
    return ExportPlan(channel_id, start, end, tuple(planned), tuple(gaps))
