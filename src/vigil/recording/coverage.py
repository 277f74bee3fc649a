"""Coverage: per channel per local day, how much was recorded, the gaps and their causes,
and whether the channel meets its class guarantee (DESIGN §6; a KPI per region/owner/class).

Definitions (kept in README and docs/architecture.md too):

* **Days** are local calendar days in ``settings.recording.coverage_timezone`` (default
  Asia/Shanghai, UTC+8); today counts only up to now.
* **Recorded seconds** of a day: the length of the merged spans (``recording.timeline``)
  inside the day.
* **Expected seconds**: the elapsed part of the day minus gaps caused by ``not_scheduled``
  (the channel's policy said not to record). **Availability %** = recorded / expected.
* **Meets guarantee** (class 1 and 2 only; class 3 has none): over the last N days
  (N = the class minimum, 30 / 15) ending ``open_allowance_s`` before now — the segment
  being written is not indexed yet — no gap is longer than
  :data:`GUARANTEE_GAP_TOLERANCE_S`, except gaps caused by ``not_scheduled``. A channel
  that has not yet recorded for N days does not meet it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.recording import events
from vigil.recording.timeline import Gap, Timeline, load_timeline, recorded_intervals
from vigil.settings import RetentionSettings

GUARANTEE_GAP_TOLERANCE_S = 60.0
MAX_REPORT_DAYS = 31


@dataclass(frozen=True, slots=True)
class CoverageSubject:
    """A channel as the caller's registry query found it (recording does not read the ledger)."""

    channel_id: str
    name: str
    region_code: str
    org_id: int | None
    point_class: int


@dataclass(frozen=True, slots=True)
class DayCoverage:
    day: date
    recorded_s: float
    expected_s: float
    gaps: tuple[Gap, ...]  # clipped to the day

    @property
    def availability_pct(self) -> float | None:
        if self.expected_s <= 0:
            return None
        return round(min(100.0, 100.0 * self.recorded_s / self.expected_s), 2)


@dataclass(frozen=True, slots=True)
class ChannelCoverage:
    subject: CoverageSubject
    guarantee_days: int  # 0: no guarantee (class 3)
    meets_guarantee: bool | None  # None: no guarantee applies
    breaking_gaps: tuple[Gap, ...]  # gaps that break the guarantee, oldest first
    days: tuple[DayCoverage, ...]


def guarantee_days_for(point_class: int, retention: RetentionSettings) -> int:
    return retention.days_for_class(point_class) if point_class in (1, 2) else 0


def local_day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The [start, end) of a local calendar day as aware datetimes."""
    start = datetime.combine(day, time(), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=tz)
    return start, end


def report_days(last_day: date, days: int) -> list[date]:
    return [last_day - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _clip(gap: Gap, start: datetime, end: datetime) -> Gap | None:
    lo, hi = max(gap.start_at, start), min(gap.end_at, end)
    return Gap(lo, hi, gap.cause) if lo < hi else None


def day_coverage(timeline: Timeline, day: date, tz: tzinfo, now: datetime) -> DayCoverage:
    """One local day cut from a timeline that covers it (up to ``now``)."""
    start, end = local_day_bounds(day, tz)
    end = min(end, now)
    if end <= start:
        return DayCoverage(day, 0.0, 0.0, ())
    recorded = sum(
        (min(s.end_at, end) - max(s.start_at, start)).total_seconds()
        for s in timeline.spans
        if s.start_at < end and s.end_at > start
    )
    gaps = tuple(g for g in (_clip(gap, start, end) for gap in timeline.gaps) if g is not None)
    unscheduled = sum(g.duration_s for g in gaps if g.cause == events.NOT_SCHEDULED)
    expected = (end - start).total_seconds() - unscheduled
    return DayCoverage(day, round(recorded, 3), round(expected, 3), gaps)


def breaking_gaps(timeline: Timeline, start: datetime, end: datetime) -> tuple[Gap, ...]:
    """Gaps inside [start, end) that break a guarantee (see the module docstring)."""
    found = []
    for gap in timeline.gaps:
        clipped = _clip(gap, start, end)
        if clipped is None or clipped.cause == events.NOT_SCHEDULED:
            continue
        if clipped.duration_s > GUARANTEE_GAP_TOLERANCE_S:
            found.append(clipped)
    return tuple(found)


async def channel_coverage(
    engine: AsyncEngine,
    subject: CoverageSubject,
    *,
    last_day: date,
    days: int,
    tz: tzinfo,
    now: datetime,
    retention: RetentionSettings,
    open_allowance_s: float,
    with_days: bool = True,
) -> ChannelCoverage:
    """Coverage of one channel for ``days`` local days ending with ``last_day``."""
    guarantee = guarantee_days_for(subject.point_class, retention)
    window_end = now - timedelta(seconds=open_allowance_s)
    window_start = window_end - timedelta(days=guarantee)
    first_day_start, _ = local_day_bounds(report_days(last_day, days)[0], tz)
    _, last_day_end = local_day_bounds(last_day, tz)
    starts = [window_start] if guarantee else []
    ends = [window_end] if guarantee else []
    if with_days:
        starts.append(first_day_start)
        ends.append(min(last_day_end, now))
    if not starts:
        return ChannelCoverage(subject, 0, None, (), ())
    start, end = min(starts), max(ends)
    if end <= start:
        end = start
    intervals = await recorded_intervals(engine, subject.channel_id, start, end)
    timeline = await load_timeline(engine, subject.channel_id, start, end, intervals)
    meets: bool | None = None
    breaks: tuple[Gap, ...] = ()
    if guarantee:
        breaks = breaking_gaps(timeline, window_start, window_end)
        meets = not breaks
    cells = tuple(day_coverage(timeline, d, tz, now) for d in report_days(last_day, days))
    return ChannelCoverage(subject, guarantee, meets, breaks, cells if with_days else ())


@dataclass(frozen=True, slots=True)
class GuaranteeSummary:
    meeting: int
    total: int  # channels with a guarantee (class 1 and 2)

    @property
    def rate_pct(self) -> float | None:
        return round(100.0 * self.meeting / self.total, 2) if self.total else None


async def guarantee_summary(
    engine: AsyncEngine,
    subjects: Sequence[CoverageSubject],
    *,
    now: datetime,
    retention: RetentionSettings,
    open_allowance_s: float,
    tz: tzinfo,
) -> GuaranteeSummary:
    """How many of the channels with a guarantee meet it (the coverage KPI)."""
    meeting = total = 0
    for subject in subjects:
        if guarantee_days_for(subject.point_class, retention) == 0:
            continue
        result = await channel_coverage(
            engine,
            subject,
            last_day=now.astimezone(tz).date(),
            days=1,
            tz=tz,
            now=now,
            retention=retention,
            open_allowance_s=open_allowance_s,
            with_days=False,
        )
        total += 1
        meeting += bool(result.meets_guarantee)
    return GuaranteeSummary(meeting, total)
