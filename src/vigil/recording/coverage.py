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

How a day is computed and when it is read from the ``coverage_days`` roll-up instead is in
``recording.coverage_days``. A gap that runs across midnight is seen by both days; the
pieces are joined again here and take the cause their earliest day found (the one that saw
the gap begin), so a day's gap causes and the guarantee judge the whole gap, as one
timeline over the report's range would.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from sqlalchemy.ext.asyncio import AsyncEngine

from vigil.recording import events
from vigil.recording.coverage_days import (
    DayView,
    compute_views,
    is_settled,
    marks,
    store_views,
    stored_views,
)
from vigil.recording.coverage_days import (
    local_day_bounds as local_day_bounds,  # re-exported: callers cut days through here
)
from vigil.recording.timeline import Gap
from vigil.settings import RetentionSettings

GUARANTEE_GAP_TOLERANCE_S = 60.0
MAX_REPORT_DAYS = 31
_BATCH = 200  # channels per round of roll-up reads and writes


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


def report_days(last_day: date, days: int) -> list[date]:
    return [last_day - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def _clip(gap: Gap, start: datetime, end: datetime) -> Gap | None:
    lo, hi = max(gap.start_at, start), min(gap.end_at, end)
    return Gap(lo, hi, gap.cause) if lo < hi else None


def _join(views: Sequence[DayView]) -> list[Gap]:
    """Whole gaps from the days' pieces; a piece seen from an earlier context names the cause."""
    pieces = sorted(
        ((g, v.context_from) for v in views for g in v.gaps),
        key=lambda item: (item[0].start_at, item[1]),
    )
    joined: list[Gap] = []
    for gap, _ in pieces:
        if joined and gap.start_at < joined[-1].end_at:
            last = joined[-1]
            if gap.end_at > last.end_at:
                joined[-1] = Gap(last.start_at, gap.end_at, last.cause)
        else:
            joined.append(gap)
    return joined


def _day(view: DayView, joined: Sequence[Gap], tz: tzinfo, now: datetime) -> DayCoverage:
    start, end = local_day_bounds(view.day, tz)
    end = min(end, now)
    if end <= start:
        return DayCoverage(view.day, 0.0, 0.0, ())
    starts = [g.start_at for g in joined]
    gaps = []
    for piece in view.gaps:
        whole = joined[bisect_right(starts, piece.start_at) - 1]
        clipped = _clip(Gap(piece.start_at, piece.end_at, whole.cause), start, end)
        if clipped is not None:
            gaps.append(clipped)
    unscheduled = sum(g.duration_s for g in gaps if g.cause == events.NOT_SCHEDULED)
    expected = (end - start).total_seconds() - unscheduled
    return DayCoverage(view.day, view.recorded_s, round(expected, 3), tuple(gaps))


def _breaking(joined: Sequence[Gap], start: datetime, end: datetime) -> tuple[Gap, ...]:
    """Gaps inside [start, end) that break a guarantee (see the module docstring)."""
    found = []
    for gap in joined:
        clipped = _clip(gap, start, end)
        if clipped is None or clipped.cause == events.NOT_SCHEDULED:
            continue
        if clipped.duration_s > GUARANTEE_GAP_TOLERANCE_S:
            found.append(clipped)
    return tuple(found)


def _runs(days: Sequence[date]) -> list[list[date]]:
    """Sorted days split into runs of consecutive dates (one read of segments per run)."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


@dataclass(frozen=True, slots=True)
class _Plan:
    subject: CoverageSubject
    guarantee: int
    window: tuple[datetime, datetime] | None  # the guarantee's [start, end)
    days: tuple[date, ...]  # every day the answer needs, sorted


async def coverage_of_channels(
    engine: AsyncEngine,
    subjects: Sequence[CoverageSubject],
    *,
    last_day: date,
    days: int,
    tz: tzinfo,
    now: datetime,
    retention: RetentionSettings,
    open_allowance_s: float,
    with_days: bool = True,
    rollup: bool = True,
) -> list[ChannelCoverage]:
    """Coverage of each channel for ``days`` local days ending with ``last_day``.

    With ``rollup``, settled days are read from ``coverage_days``; those missing are computed
    from segments and stored, a batch of channels at a time. Without it every day is
    computed from segments (same results; the differential test holds them equal).
    """
    window_end = now - timedelta(seconds=open_allowance_s)
    shown = report_days(last_day, days) if with_days else []
    plans = []
    for subject in subjects:
        guarantee = guarantee_days_for(subject.point_class, retention)
        needed = set(shown)
        window = None
        if guarantee:
            window = (window_end - timedelta(days=guarantee), window_end)
            first = window[0].astimezone(tz).date()
            last = window_end.astimezone(tz).date()
            needed.update(first + timedelta(days=k) for k in range((last - first).days + 1))
        plans.append(_Plan(subject, guarantee, window, tuple(sorted(needed))))
    results: list[ChannelCoverage] = []
    for offset in range(0, len(plans), _BATCH):
        batch = plans[offset : offset + _BATCH]
        views = await _views(engine, batch, tz, now, open_allowance_s, rollup)
        for plan in batch:
            if not plan.days:
                results.append(ChannelCoverage(plan.subject, 0, None, (), ()))
                continue
            own = [views[(plan.subject.channel_id, day)] for day in plan.days]
            joined = _join(own)
            meets: bool | None = None
            breaks: tuple[Gap, ...] = ()
            if plan.window is not None:
                breaks = _breaking(joined, *plan.window)
                meets = not breaks
            by_day = {v.day: v for v in own}
            cells = tuple(_day(by_day[day], joined, tz, now) for day in shown)
            results.append(ChannelCoverage(plan.subject, plan.guarantee, meets, breaks, cells))
    return results


async def _views(
    engine: AsyncEngine,
    batch: Sequence[_Plan],
    tz: tzinfo,
    now: datetime,
    open_allowance_s: float,
    rollup: bool,
) -> dict[tuple[str, date], DayView]:
    """Every needed day of the batch: stored ones read, the rest computed (settled ones stored)."""
    wanted = [p for p in batch if p.days]
    if not wanted:
        return {}
    found: dict[tuple[str, date], DayView] = {}
    if rollup:
        first = min(p.days[0] for p in wanted)
        last = max(p.days[-1] for p in wanted)
        ids = sorted({p.subject.channel_id for p in wanted})
        found = await stored_views(engine, ids, first, last, tz)
    missing = {
        p.subject.channel_id: [d for d in p.days if (p.subject.channel_id, d) not in found]
        for p in wanted
    }
    missing = {c: d for c, d in missing.items() if d}

    def settled(day: date) -> bool:
        return is_settled(day, tz, now, open_allowance_s)

    to_store = sorted(c for c, d in missing.items() if any(settled(x) for x in d))
    generations = await marks(engine, to_store) if rollup and to_store else {}
    computed: list[DayView] = []
    for channel_id, days in missing.items():
        for run in _runs(days):
            computed += await compute_views(engine, channel_id, run, tz, now)
    found.update(((v.channel_id, v.day), v) for v in computed)
    if rollup:
        settled_views = [v for v in computed if settled(v.day)]
        await store_views(engine, settled_views, generations, tz, now)
    return found


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
    rollup: bool = True,
) -> ChannelCoverage:
    """Coverage of one channel for ``days`` local days ending with ``last_day``."""
    (result,) = await coverage_of_channels(
        engine,
        [subject],
        last_day=last_day,
        days=days,
        tz=tz,
        now=now,
        retention=retention,
        open_allowance_s=open_allowance_s,
        with_days=with_days,
        rollup=rollup,
    )
    return result


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
    rollup: bool = True,
) -> GuaranteeSummary:
    """How many of the channels with a guarantee meet it (the coverage KPI)."""
    guaranteed = [s for s in subjects if guarantee_days_for(s.point_class, retention)]
    results = await coverage_of_channels(
        engine,
        guaranteed,
        last_day=now.astimezone(tz).date(),
        days=1,
        tz=tz,
        now=now,
        retention=retention,
        open_allowance_s=open_allowance_s,
        with_days=False,
        rollup=rollup,
    )
    return GuaranteeSummary(sum(bool(r.meets_guarantee) for r in results), len(results))
