"""The segment index: typed rows over ``segments`` and ``video_params`` (DESIGN §6).

Everything that reads recordings — timeline, coverage, playback, export, retention — goes
through these functions, so the row layout is known in one place. Times are aware UTC
datetimes; media time is 90 kHz ticks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from vigil.db.tables import segments, video_params
from vigil.recording.coverage_invalidation import invalidate_coverage
from vigil.recording.fragment_table import FragmentEntry, pack_fragments, unpack_fragments


@dataclass(frozen=True, slots=True)
class VideoParams:
    id: int
    codec: str  # h264 | h265
    rfc6381_codec: str
    width: int
    height: int
    init_segment: bytes

    @property
    def mime_type(self) -> str:
        return f'video/mp4; codecs="{self.rfc6381_codec}"'


@dataclass(frozen=True, slots=True)
class SegmentFacts:
    """What the index keeps of a segment file: the ``segments`` columns but ``id``."""

    channel_id: str
    pool: str
    path: str  # relative to the pool directory
    run_id: int
    start_at: datetime
    end_at: datetime
    start_90k: int
    duration_90k: int
    size_bytes: int
    init_size_bytes: int
    frames: int
    params_id: int
    sha256: str
    fragments: tuple[FragmentEntry, ...]
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class NewSegment(SegmentFacts):
    """A finished, fsynced segment file about to be indexed."""

    def as_row(self, segment_id: int) -> SegmentRow:
        """The index row of this segment once inserted under ``segment_id``."""
        return SegmentRow(id=segment_id, **_fields_of(self))


def _fields_of(segment: SegmentFacts) -> dict[str, Any]:
    """A segment's fields by name: the ``segments`` columns but ``id``."""
    return {f.name: getattr(segment, f.name) for f in fields(segment) if f.name != "id"}


@dataclass(frozen=True, slots=True)
class SegmentRow(SegmentFacts):
    """An indexed segment."""

    id: int = field(kw_only=True)

    @property
    def duration_s(self) -> float:
        return self.duration_90k / 90_000


def _segment(row: sa.Row[tuple[object, ...]]) -> SegmentRow:
    m = row._mapping
    return SegmentRow(
        id=int(m["id"]),
        channel_id=str(m["channel_id"]),
        pool=str(m["pool"]),
        path=str(m["path"]),
        run_id=int(m["run_id"]),
        start_at=m["start_at"],
        end_at=m["end_at"],
        start_90k=int(m["start_90k"]),
        duration_90k=int(m["duration_90k"]),
        size_bytes=int(m["size_bytes"]),
        init_size_bytes=int(m["init_size_bytes"]),
        frames=int(m["frames"]),
        params_id=int(m["params_id"]),
        sha256=str(m["sha256"]),
        fragments=unpack_fragments(bytes(m["fragments"])),
        recovered=bool(m["recovered"]),
    )


# Public name for modules that select whole segment rows themselves (retention).
segment_from_row = _segment


async def ensure_video_params(
    conn: AsyncConnection,
    *,
    codec: str,
    rfc6381_codec: str,
    width: int,
    height: int,
    init_segment: bytes,
) -> int:
    """The id of these parameters, inserting them the first time they are seen.

    Many channels of one camera model start together with the same init segment: the
    insert is ON CONFLICT DO NOTHING on the hash, so concurrent first sightings never fail.
    """
    digest = hashlib.sha256(init_segment).hexdigest()
    query = sa.select(video_params.c.id).where(video_params.c.sha256 == digest)
    found = await conn.scalar(query)
    if found is not None:
        return int(found)
    values = {
        "sha256": digest,
        "codec": codec,
        "rfc6381_codec": rfc6381_codec,
        "width": width,
        "height": height,
        "init_segment": init_segment,
        "created_at": datetime.now(UTC),
    }
    dialect = conn.dialect.name
    insert: Any = video_params.insert()
    if dialect == "postgresql":
        insert = postgresql.insert(video_params).on_conflict_do_nothing(index_elements=["sha256"])
    elif dialect == "sqlite":
        insert = sqlite.insert(video_params).on_conflict_do_nothing(index_elements=["sha256"])
    await conn.execute(insert.values(values))
    found = await conn.scalar(query)
    assert found is not None
    return int(found)


async def video_params_by_id(engine: AsyncEngine, params_id: int) -> VideoParams | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(sa.select(video_params).where(video_params.c.id == params_id))
        ).first()
    if row is None:
        return None
    m = row._mapping
    return VideoParams(
        id=int(m["id"]),
        codec=str(m["codec"]),
        rfc6381_codec=str(m["rfc6381_codec"]),
        width=int(m["width"]),
        height=int(m["height"]),
        init_segment=bytes(m["init_segment"]),
    )


async def _insert_row(conn: AsyncConnection, segment: NewSegment) -> int:
    values = _fields_of(segment) | {"fragments": pack_fragments(segment.fragments)}
    result = await conn.execute(segments.insert().values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


async def insert_segment(conn: AsyncConnection, segment: NewSegment) -> int:
    """Index a segment whose file is complete and fsynced; returns the row id."""
    segment_id = await _insert_row(conn, segment)
    await invalidate_coverage(conn, [(segment.channel_id, segment.start_at, segment.end_at)])
    return segment_id


async def index_segments(engine: AsyncEngine, finished: Iterable[NewSegment]) -> list[SegmentRow]:
    """Insert rows for finished (fsynced) segment files, in one transaction.

    A segment dated into a day whose coverage is already stored (a late insert) drops that
    day's roll-up in the same transaction; fresh segments skip it (see coverage_invalidation).
    """
    batch = list(finished)
    if not batch:
        return []
    async with engine.begin() as conn:
        ids = [await _insert_row(conn, segment) for segment in batch]
        await invalidate_coverage(conn, [(s.channel_id, s.start_at, s.end_at) for s in batch])
    return [segment.as_row(i) for i, segment in zip(ids, batch, strict=True)]


async def next_run_id(engine: AsyncEngine, channel_id: str, start_at: datetime) -> int:
    """A run id for the channel: the start in milliseconds, above every earlier run's."""
    async with engine.connect() as conn:
        highest = await conn.scalar(
            sa.select(sa.func.max(segments.c.run_id)).where(segments.c.channel_id == channel_id)
        )
    candidate = int(start_at.timestamp() * 1000)
    return max(candidate, int(highest or 0) + 1)


async def segments_between(
    engine: AsyncEngine, channel_id: str, start: datetime, end: datetime
) -> list[SegmentRow]:
    """Segments of the channel overlapping [start, end), oldest first."""
    query = (
        sa.select(segments)
        .where(
            segments.c.channel_id == channel_id,
            segments.c.start_at < end,
            segments.c.end_at > start,
        )
        .order_by(segments.c.start_at, segments.c.id)
    )
    async with engine.connect() as conn:
        return [_segment(row) for row in await conn.execute(query)]


async def segment_by_id(engine: AsyncEngine, segment_id: int) -> SegmentRow | None:
    async with engine.connect() as conn:
        row = (await conn.execute(sa.select(segments).where(segments.c.id == segment_id))).first()
    return _segment(row) if row is not None else None


async def segments_from(
    engine: AsyncEngine,
    channel_id: str,
    at: datetime,
    *,
    after_id: int | None = None,
    limit: int = 64,
) -> list[SegmentRow]:
    """Segments of the channel from ``at`` on, oldest first, at most ``limit`` (playback).

    Without ``after_id``: the segment containing ``at`` (the latest one starting at or
    before it, if it ends after it), then those starting later. With ``after_id`` (the row
    last read, which started at ``at``): the segments after it in (start_at, id) order.
    Both use the (channel_id, start_at) index, whatever the length of the history.
    """
    later = sa.select(segments).where(segments.c.channel_id == channel_id)
    if after_id is None:
        later = later.where(segments.c.start_at > at)
    else:
        later = later.where(
            sa.or_(
                segments.c.start_at > at,
                sa.and_(segments.c.start_at == at, segments.c.id > after_id),
            )
        )
    later = later.order_by(segments.c.start_at, segments.c.id).limit(limit)
    async with engine.connect() as conn:
        rows: list[SegmentRow] = []
        if after_id is None:
            containing = (
                await conn.execute(
                    sa.select(segments)
                    .where(segments.c.channel_id == channel_id, segments.c.start_at <= at)
                    .order_by(segments.c.start_at.desc(), segments.c.id.desc())
                    .limit(1)
                )
            ).first()
            if containing is not None and containing._mapping["end_at"] > at:
                rows.append(_segment(containing))
        rows += [_segment(row) for row in await conn.execute(later)]
    return rows[:limit]
