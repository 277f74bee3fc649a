"""Recording coverage per channel per local day, the guarantee KPI, and its XLSX export.

Definitions live in ``recording.coverage``. The channels come from the caller's scope and
the filters (region prefix, owner, class); the KPI counts every matching channel with a
guarantee, the page shows ``limit`` of them day by day. The export is audited.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncConnection

from vigil.access.principal import Principal
from vigil.access.roles import Permission
from vigil.api.context import ApiContext
from vigil.api.deps import Ctx, record_audit, require, scope_of
from vigil.api.errors import ApiError
from vigil.api.routes import API_PREFIX
from vigil.api.routes.timeline_routes import iso
from vigil.recording import coverage
from vigil.recording.timeline import Gap
from vigil.registry import channels
from vigil.registry.labels import point_labels
from vigil.registry.scope import Scope
from vigil.registry.xlsx_writer import XlsxValue, write_xlsx
from vigil.settings import RetentionSettings

router = APIRouter(prefix=API_PREFIX, tags=["coverage"])
Reader = Annotated[Principal, Depends(require(Permission.REGISTRY_READ))]

MAX_EXPORT_CHANNELS = 2000
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CoverageQuery(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    last_day: date | None = Field(default=None, alias="date")  # default: today (local)
    days: int = Field(default=7, ge=1, le=coverage.MAX_REPORT_DAYS)
    region: str | None = Field(default=None, max_length=8)
    org: int | None = None
    point_class: int | None = Field(default=None, alias="class", ge=1, le=3)
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=50, ge=1, le=200)

    def to_filter(self) -> channels.ChannelFilter:
        return channels.ChannelFilter(
            region=self.region, org_id=self.org, point_class=self.point_class
        )


def _subject(item: channels.Channel) -> coverage.CoverageSubject:
    return coverage.CoverageSubject(
        item.id, item.name, item.region_code, item.org_id, item.point_class
    )


async def _all_subjects(
    conn: AsyncConnection,
    scope: Scope,
    query: CoverageQuery,
    retention: RetentionSettings,
    cap: int,
) -> AsyncIterator[coverage.CoverageSubject]:
    offset = 0
    while offset < cap:
        page = await channels.list_channels(
            conn, scope, query.to_filter(), retention=retention, offset=offset, limit=500
        )
        for item in page.items:
            yield _subject(item)
        if len(page.items) < 500:
            return
        offset += 500


def _gap_json(gap: Gap) -> dict[str, Any]:
    return {"start": iso(gap.start_at), "end": iso(gap.end_at), "cause": gap.cause}


def _timezone(name: str) -> tzinfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class _ReportWindow:
    """The local days a report covers, read from one clock reading per request."""

    tz: tzinfo
    now: datetime
    last_day: date
    days: int
    allowance_s: float  # an open segment this young is not a gap yet

    @classmethod
    def of_request(cls, ctx: ApiContext, query: CoverageQuery) -> _ReportWindow:
        tz = _timezone(ctx.recording.coverage_timezone)
        now = datetime.now(UTC)
        last_day = query.last_day or now.astimezone(tz).date()
        return cls(tz, now, last_day, query.days, 2 * ctx.recording.segment_duration_s)

    async def coverage(
        self, ctx: ApiContext, subjects: Sequence[coverage.CoverageSubject]
    ) -> list[coverage.ChannelCoverage]:
        """The channels' coverage, settled days from the daily roll-up."""
        return await coverage.coverage_of_channels(
            ctx.engine,
            subjects,
            last_day=self.last_day,
            days=self.days,
            tz=self.tz,
            now=self.now,
            retention=ctx.retention,
            open_allowance_s=self.allowance_s,
        )


@router.get("/coverage")
async def coverage_report(
    ctx: Ctx, principal: Reader, query: Annotated[CoverageQuery, Query()]
) -> dict[str, Any]:
    """A page of channels with their days, and the guarantee KPI over every match."""
    window = _ReportWindow.of_request(ctx, query)
    tz, now, last_day, allowance = window.tz, window.now, window.last_day, window.allowance_s
    scope = scope_of(principal)
    async with ctx.engine.connect() as conn:
        page = await channels.list_channels(
            conn,
            scope,
            query.to_filter(),
            retention=ctx.retention,
            offset=query.offset,
            limit=query.limit,
        )
        subjects = [s async for s in _all_subjects(conn, scope, query, ctx.retention, 10**9)]
        region_names, org_names = await point_labels(
            conn, (c.region_code for c in page.items), (c.org_id for c in page.items)
        )
    summary = await coverage.guarantee_summary(
        ctx.engine,
        subjects,
        now=now,
        retention=ctx.retention,
        open_allowance_s=allowance,
        tz=tz,
    )
    items = []
    results = await window.coverage(ctx, [_subject(item) for item in page.items])
    for item, result in zip(page.items, results, strict=True):
        items.append(
            {
                "channel_id": item.id,
                "name": item.name,
                "region_code": item.region_code,
                "region_name": region_names.get(item.region_code, ""),
                "org_name": org_names.get(item.org_id, "") if item.org_id is not None else "",
                "point_class": item.point_class,
                "guarantee_days": result.guarantee_days,
                "meets_guarantee": result.meets_guarantee,
                "breaking_gaps": [_gap_json(g) for g in result.breaking_gaps[:50]],
                "days": [
                    {
                        "date": d.day.isoformat(),
                        "recorded_s": d.recorded_s,
                        "expected_s": d.expected_s,
                        "availability_pct": d.availability_pct,
                        "gaps": [_gap_json(g) for g in d.gaps],
                    }
                    for d in result.days
                ],
            }
        )
    return {
        "date": last_day.isoformat(),
        "days": [d.isoformat() for d in coverage.report_days(last_day, query.days)],
        "timezone": ctx.recording.coverage_timezone,
        "summary": {
            "meeting": summary.meeting,
            "total": summary.total,
            "rate_pct": summary.rate_pct,
        },
        "items": items,
        "total": page.total,
        "offset": page.offset,
        "limit": page.limit,
    }


_HEADERS = {
    "zh": [
        "采集点编号", "名称", "行政区划", "类别", "保障天数", "是否达标",
        "日期", "录像秒数", "应录秒数", "完好率%", "中断次数", "中断明细",
    ],
    "en": [
        "Point ID", "Name", "Region", "Class", "Guarantee days", "Meets guarantee",
        "Date", "Recorded s", "Expected s", "Availability %", "Gaps", "Gap details",
    ],
}  # fmt: skip
_YES_NO = {"zh": ("是", "否", "不适用"), "en": ("yes", "no", "n/a")}


def _gap_text(gaps: Sequence[Gap], tz: tzinfo) -> str:
    return "; ".join(
        f"{g.start_at.astimezone(tz):%H:%M:%S}–{g.end_at.astimezone(tz):%H:%M:%S} {g.cause}"
        for g in gaps
    )


@router.get("/coverage.xlsx")
async def coverage_xlsx(
    request: Request,
    ctx: Ctx,
    principal: Reader,
    query: Annotated[CoverageQuery, Query()],
    lang: Literal["zh", "en"] = "zh",
) -> Response:
    """The report as a workbook: one row per channel per day, every matching channel."""
    window = _ReportWindow.of_request(ctx, query)
    tz, last_day = window.tz, window.last_day
    scope = scope_of(principal)
    async with ctx.engine.connect() as conn:
        subjects = [
            s
            async for s in _all_subjects(conn, scope, query, ctx.retention, MAX_EXPORT_CHANNELS + 1)
        ]
    if len(subjects) > MAX_EXPORT_CHANNELS:
        raise ApiError(
            422,
            "too_many_channels",
            f"more than {MAX_EXPORT_CHANNELS} points match; narrow the region or class",
        )
    yes, no, not_applicable = _YES_NO[lang]
    rows: list[list[XlsxValue]] = []
    for subject, result in zip(subjects, await window.coverage(ctx, subjects), strict=True):
        meets = {True: yes, False: no, None: not_applicable}[result.meets_guarantee]
        for d in result.days:
            rows.append(
                [
                    subject.channel_id,
                    subject.name,
                    subject.region_code,
                    subject.point_class,
                    result.guarantee_days or None,
                    meets,
                    d.day.isoformat(),
                    round(d.recorded_s),
                    round(d.expected_s),
                    d.availability_pct,
                    len(d.gaps),
                    _gap_text(d.gaps, tz),
                ]
            )
    data = write_xlsx(_HEADERS[lang], rows, sheet_name="coverage")
    async with ctx.engine.begin() as conn:
        await record_audit(
            conn,
            ctx,
            request,
            principal.username,
            "coverage.export",
            detail={
                "date": last_day.isoformat(),
                "days": query.days,
                "channels": len(subjects),
                **query.model_dump(
                    exclude_none=True, exclude={"last_day", "days", "offset", "limit"}
                ),
            },
        )
    return Response(
        content=data,
        media_type=XLSX_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="coverage-{last_day}.xlsx"'},
    )
