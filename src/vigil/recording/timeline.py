"""A channel's recorded time as continuous spans and the gaps between them, each with a cause.

Spans: segments abut within a run and nearly abut across runs; segments whose start lies
within :data:`SPAN_JOIN_TOLERANCE_S` of the previous end merge into one span, so rounding of
wall times never shows as a gap.

Gap causes come from ``recording_events`` (DESIGN §6). For a gap [g0, g1) that follows a
span starting at p, the candidates are the cause events at or after p and before g1
(events before p are stale: recording happened after them). The cause is the latest
candidate at or before g0 — the state the channel was in when recording stopped — else the
earliest candidate inside the gap (a stream loss is detected some seconds after the last
frame), else ``unknown``. A gap at the start of the range looks back to the last cause
event before it. ``purged_in_guarantee`` events are dated at the start of the footage
they removed, so the gap they leave finds them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.db.tables import recording_events, segments
from vigil.recording import events
from vigil.recording.index import SegmentRow, segments_between

SPAN_JOIN_TOLERANCE_S = 1.5
UNKNOWN = "unknown"
GAP_CAUSES = frozenset(
    {
        events.DEVICE_OFFLINE,
        events.STREAM_LOST,
        events.DISK_FULL,
        events.NOT_SCHEDULED,
        events.PURGED_IN_GUARANTEE,
    }
)

Interval = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class Span:
    start_at: datetime
    end_at: datetime

    @property
    def duration_s(self) -> float:
        return (self.end_at - self.start_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Gap:
    start_at: datetime
    end_at: datetime
    cause: str  # one of GAP_CAUSES or "unknown"

    @property
    def duration_s(self) -> float:
        return (self.end_at - self.start_at).total_seconds()


@dataclass(frozen=True, slots=True)
class Timeline:
    start_at: datetime
    end_at: datetime
    spans: tuple[Span, ...]
    gaps: tuple[Gap, ...]

    @property
    def recorded_s(self) -> float:
        return sum(span.duration_s for span in self.spans)


def merge_spans(
    intervals: Iterable[Interval], tolerance_s: float = SPAN_JOIN_TOLERANCE_S
) -> list[Span]:
    """Merge [start, end) intervals (any order) that overlap or lie within the tolerance."""
    tolerance = timedelta(seconds=tolerance_s)
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + tolerance:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [Span(start, end) for start, end in merged]


def _cause(
    span_start: datetime | None,
    gap_start: datetime,
    gap_end: datetime,
    causes: Sequence[tuple[datetime, str]],
) -> str:
    before: str | None = None
    inside: str | None = None
    for at, kind in causes:  # oldest first
        if span_start is not None and at < span_start:
            continue
        if at <= gap_start:
            before = kind
        elif at < gap_end and inside is None:
            inside = kind
    return before or inside or UNKNOWN


def build_timeline(
    intervals: Iterable[Interval],
    cause_events: Iterable[tuple[datetime, str]],
    start: datetime,
    end: datetime,
    *,
    tolerance_s: float = SPAN_JOIN_TOLERANCE_S,
) -> Timeline:
    """Spans clipped to [start, end) and the gaps between them with their causes.

    ``cause_events`` (time, kind) should include the last cause event before ``start``;
    kinds outside :data:`GAP_CAUSES` are ignored.
    """
    causes = sorted((at, kind) for at, kind in cause_events if kind in GAP_CAUSES)
    unclipped = merge_spans(intervals, tolerance_s)
    spans: list[Span] = []
    gaps: list[Gap] = []
    cursor = start
    previous_start: datetime | None = None
    for span in unclipped:
        if span.end_at <= start:
            previous_start = span.start_at  # events before it are stale for the first gap
            continue
        if span.start_at >= end:
            break
        if span.start_at > cursor:
            gaps.append(
                Gap(cursor, span.start_at, _cause(previous_start, cursor, span.start_at, causes))
            )
        spans.append(Span(max(span.start_at, start), min(span.end_at, end)))
        cursor = min(span.end_at, end)
        previous_start = span.start_at
    if cursor < end:
        gaps.append(Gap(cursor, end, _cause(previous_start, cursor, end, causes)))
    return Timeline(start, end, tuple(spans), tuple(gaps))


async def cause_events(
    engine: AsyncEngine, channel_id: str, start: datetime, end: datetime
) -> list[tuple[datetime, str]]:
    """The channel's cause events in [start, end) and the last one before ``start``."""
    e = recording_events.c
    kinds = sorted(GAP_CAUSES)
    async with engine.connect() as conn:
        inside = (
            await conn.execute(
                sa.select(e.at, e.kind)
                .where(e.channel_id == channel_id, e.kind.in_(kinds), e.at >= start, e.at < end)
                .order_by(e.at, e.id)
            )
        ).all()
        last = (
            await conn.execute(
                sa.select(e.at, e.kind)
                .where(e.channel_id == channel_id, e.kind.in_(kinds), e.at < start)
                .order_by(e.at.desc(), e.id.desc())
                .limit(1)
            )
        ).first()
    found = [(at, str(kind)) for at, kind in inside]
    return ([(last[0], str(last[1]))] if last is not None else []) + found


async def recorded_intervals(
    engine: AsyncEngine, channel_id: str, start: datetime, end: datetime
) -> list[Interval]:
    """[start, end) of the channel's segments overlapping the range (no fragment tables)."""
    s = segments.c
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(s.start_at, s.end_at)
            .where(s.channel_id == channel_id, s.start_at < end, s.end_at > start)
            .order_by(s.start_at, s.id)
        )
        return [(a, b) for a, b in rows]


async def load_timeline(
    engine: AsyncEngine,
    channel_id: str,
    start: datetime,
    end: datetime,
    intervals: Sequence[Interval],
) -> Timeline:
    """The timeline of the range from already fetched intervals, reading the events."""
    since = min([start, *(a for a, _ in intervals)])
    return build_timeline(intervals, await cause_events(engine, channel_id, since, end), start, end)


async def channel_recordings(
    engine: AsyncEngine, channel_id: str, start: datetime, end: datetime
) -> tuple[list[SegmentRow], Timeline]:
    """The segments overlapping [start, end) and their timeline (the recordings API)."""
    rows = await segments_between(engine, channel_id, start, end)
    timeline = await load_timeline(
        engine, channel_id, start, end, [(r.start_at, r.end_at) for r in rows]
    )
    return rows, timeline
